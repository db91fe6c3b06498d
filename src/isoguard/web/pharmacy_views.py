"""The pharmacist's page for one prescription: authorised or refused, and recording the fill."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from isoguard.accounts.models import User
from isoguard.courses import programme_services as services
from isoguard.courses.models import Prescription
from isoguard.web.params import whole_number


class DispenseForm(forms.Form):
    quantity = forms.IntegerField(label="Capsules dispensed", min_value=1, max_value=1000)
    days_supply = forms.IntegerField(label="Days' supply", min_value=1, max_value=30)
    rma_number = forms.CharField(label="iPLEDGE RMA number (US)", required=False, max_length=40)
    external_do_not_dispense_after = forms.DateField(
        label="iPLEDGE 'do not dispense after' date (US)", required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip


@login_required
def prescription_page(request: HttpRequest, prescription_id: int) -> HttpResponse:
    """Show whether the prescription may be dispensed now, with every reason, and record steps."""
    user: User = request.user  # type: ignore[assignment]
    form = None
    if request.method == "POST":
        step = request.POST.get("step")
        try:
            if step == "medication_guide":
                services.medication_guide_record(
                    user=user, prescription_id=prescription_id, request=request
                )
                messages.success(request, "Medication Guide acknowledgement recorded.")
                return redirect("pharmacy_prescription", prescription_id=prescription_id)
            if step == "reverse":
                services.authorisation_reverse(
                    user=user,
                    decision_id=_decision_id(request.POST.get("decision")),
                    request=request,
                )
                messages.success(request, "Authorisation reversed.")
                return redirect("pharmacy_prescription", prescription_id=prescription_id)
            if step != "dispense":
                raise ValidationError(
                    f"step: expected medication_guide, reverse or dispense, got {step!r}."
                )
            form = DispenseForm(request.POST)
            if form.is_valid():
                dispense = services.dispense_record(
                    user=user, prescription_id=prescription_id, request=request, **form.cleaned_data
                )
                note = ""
                external = form.cleaned_data["external_do_not_dispense_after"]
                if dispense and external and external != _isoguard_date(prescription_id):
                    note = " iPLEDGE's date differs from isoguard's: check which is right."
                messages.success(request, f"Dispense recorded on {dispense.dispensed_on}.{note}")
                return redirect("pharmacy_prescription", prescription_id=prescription_id)
        except ValidationError as error:
            if form is not None and hasattr(error, "error_dict"):
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.error(request, " ".join(error.messages))
    try:
        decision = services.dispense_authorisation(
            user=user, prescription_id=prescription_id, request=request
        )
        rx = decision.prescription
    except ValidationError as error:  # a cancelled prescription: shown, never authorised
        messages.error(request, " ".join(error.messages))
        decision = None
        rx = services.pharmacy_prescription(user, prescription_id, "view", request)
    assert rx is not None
    context: dict[str, Any] = {
        "rx": rx,
        "patient": rx.course.patient,
        "decision": decision,
        "dispense": getattr(rx, "dispense", None),
        "ack": getattr(rx, "medication_guide_ack", None),
        "form": form
        or DispenseForm(initial={"quantity": rx.quantity, "days_supply": min(rx.days_supply, 30)}),
    }
    return render(request, "isoguard/pharmacy_prescription.html", context)


def _decision_id(value: str | None) -> int:
    """The posted authorisation id, or a ValidationError naming it."""
    number = whole_number(value)
    if number is None:
        raise ValidationError(f"decision: expected the id of an authorisation, got {value!r}.")
    return number


def _isoguard_date(prescription_id: int) -> object:
    """The last day isoguard allowed, from the decision the fill rested on."""
    rx = Prescription.objects.get(pk=prescription_id)
    decision = rx.decisions.filter(allowed=True, action="dispense").first()
    return decision.dispense_by if decision else None
