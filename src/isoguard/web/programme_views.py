"""The prescriber's programme page for a course: what is missing, and recording each step."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from isoguard.accounts.models import Organisation, User
from isoguard.choices import choices
from isoguard.core import model
from isoguard.core.vocabulary import (
    Action,
    ConsentKind,
    ContraceptionMethod,
    PregnancyTestResult,
    PregnancyTestSetting,
    Role,
)
from isoguard.courses import record_services as services
from isoguard.courses.models import Course
from isoguard.courses.programme_services import engine_decision
from isoguard.patients.access import patient_for, require_role
from isoguard.web.dosing_views import add_service_error

DATE = forms.DateInput(attrs={"type": "date"})


class EnrolmentForm(forms.Form):
    enrolled_on = forms.DateField(label="Enrolled on", widget=DATE)


class CategoryForm(forms.Form):
    can_become_pregnant = forms.TypedChoiceField(
        label="Can the patient become pregnant?", choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda v: v == "yes",
    )  # fmt: skip
    reason = forms.CharField(label="Reason", max_length=300)


class ConsentForm(forms.Form):
    kind = forms.ChoiceField(label="Form", choices=choices(ConsentKind))
    signed_on = forms.DateField(label="Signed on", widget=DATE)
    document_version = forms.CharField(label="Version of the form", max_length=60)
    guardian_signed = forms.BooleanField(label="A parent or guardian signed too", required=False)


class ContraceptionForm(forms.Form):
    methods = forms.MultipleChoiceField(
        label="Methods", choices=choices(ContraceptionMethod), widget=forms.CheckboxSelectMultiple
    )
    start = forms.DateField(label="Used since", widget=DATE)
    end = forms.DateField(label="Until (if it has ended)", required=False, widget=DATE)


class PregnancyTestForm(forms.Form):
    specimen_date = forms.DateField(label="Specimen date", widget=DATE)
    result = forms.ChoiceField(label="Result", choices=choices(PregnancyTestResult))
    setting = forms.ChoiceField(label="Where", choices=choices(PregnancyTestSetting))


class CounsellingForm(forms.Form):
    done_on = forms.DateField(label="Counselled on", widget=DATE)


class PrescriptionForm(forms.Form):
    days_supply = forms.IntegerField(label="Days' supply", min_value=1, max_value=30, initial=30)
    pharmacy = forms.ModelChoiceField(
        label="Pharmacy (if known)",
        required=False,
        queryset=Organisation.objects.filter(kind="pharmacy", external=False),
    )


STEPS: dict[str, type[forms.Form]] = {
    "enrol": EnrolmentForm, "category": CategoryForm, "consent": ConsentForm,
    "contraception": ContraceptionForm, "pregnancy_test": PregnancyTestForm,
    "counselling": CounsellingForm, "prescribe": PrescriptionForm,
}  # fmt: skip


def _run(step: str, user: User, course: Course, data: dict[str, Any], request: HttpRequest) -> str:
    """Run one step's service and return the message to show."""
    common = {"user": user, "course_id": course.pk, "request": request}
    if step == "enrol":
        services.enrolment_record(**common, **data)
        return "Enrolment recorded."
    if step == "category":
        services.pregnancy_potential_record(**common, **data)
        return "Category recorded, with its reason."
    if step == "consent":
        services.consent_record(**common, **data)
        return "Signed form recorded."
    if step == "contraception":
        services.contraception_record(**common, **data)
        return "Contraception recorded."
    if step == "pregnancy_test":
        services.pregnancy_test_record(**common, **data)
        return "Pregnancy test recorded."
    if step == "counselling":
        services.counselling_record(**common, **data)
        return "Counselling recorded."
    pharmacy = data["pharmacy"]
    decision, rx = services.prescription_write(
        **common, days_supply=data["days_supply"], pharmacy_id=pharmacy.pk if pharmacy else None
    )
    if rx is None:
        reasons = "; ".join(str(f["message"]) for f in decision.unmet)
        raise ValidationError(f"Not written: {reasons}")
    return f"Prescription written: {rx.days_supply} days, {rx.quantity} capsules."


@login_required
def programme_page(request: HttpRequest, course_id: int) -> HttpResponse:
    """Show what prescribing would need now, and take each step of the programme."""
    user: User = request.user  # type: ignore[assignment]
    course = get_object_or_404(Course.objects.select_related("patient"), pk=course_id)
    require_role(user, (Role.PRESCRIBER, Role.CLINIC_STAFF), action="view_programme",
                 obj=course, patient_id=course.patient_id, request=request)  # fmt: skip
    patient = patient_for(user, course.patient_id, request=request)
    today = timezone.localdate()
    bound: dict[str, forms.Form] = {}
    status = 200
    if request.method == "POST":
        step = request.POST.get("step", "")
        if step == "start_course":
            try:
                decision, course = services.course_start(
                    user=user, course_id=course.pk, request=request
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                if decision.allowed:
                    messages.success(request, "First dose recorded: the course is active.")
                else:
                    reasons = "; ".join(str(f["message"]) for f in decision.unmet)
                    messages.error(request, f"The course cannot start yet: {reasons}")
            return redirect("programme", course_id=course.pk)
        form_class = STEPS.get(step)
        if form_class is None:
            allowed = ", ".join(("start_course", *STEPS))
            messages.error(request, f"step: expected one of {allowed}, got {step[:40]!r}; "
                           "nothing was recorded.")  # fmt: skip
            status = 400
        else:
            form = form_class(request.POST, prefix=step)
            bound[step] = form
            if form.is_valid():
                try:
                    messages.success(request, _run(step, user, course, form.cleaned_data, request))
                    return redirect("programme", course_id=course.pk)
                except ValidationError as error:
                    add_service_error(form, error)
    initial = {
        "enrolled_on": today,
        "signed_on": today,
        "start": today,
        "specimen_date": today,
        "done_on": today,
    }
    step_forms = {
        name: bound.get(name) or cls(prefix=name, initial=initial) for name, cls in STEPS.items()
    }
    preview = engine_decision(
        course, Action.PRESCRIBE, timezone.now(), extra=(model.Prescription(today, 30, 0),)
    )
    context = {
        "course": course,
        "patient": patient,
        "forms": step_forms,
        "preview": preview,
        "unmet": [f for f in preview.findings if f.status != "met"],
    }
    return render(request, "isoguard/programme.html", context, status=status)
