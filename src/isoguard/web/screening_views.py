"""Screening pages: the form, the result, starting a course, and the patient's summary."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from isoguard.accounts.models import User
from isoguard.core.screening_input import ScreeningInputError
from isoguard.core.vocabulary import Role
from isoguard.patients.access import patient_for, require_role
from isoguard.screenings import services
from isoguard.screenings.forms import ScreeningForm, StartCourseForm
from isoguard.screenings.models import Screening
from isoguard.screenings.selectors import screening_initial

CLINIC_ROLES = (Role.PRESCRIBER, Role.CLINIC_STAFF)


@login_required
def screening_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Show the screening form (GET) or screen the patient and show the result (POST)."""
    user: User = request.user  # type: ignore[assignment]
    services.require_prescriber(user, patient_id=patient_id, action="screen", request=request)
    patient = patient_for(user, patient_id, request=request)
    if request.method == "POST":
        form = ScreeningForm(request.POST)
        if form.is_valid():
            try:
                screening = services.screening_run(
                    user=user, patient_id=patient.pk, fields=form.request_fields(), request=request
                )
            except ScreeningInputError as error:
                form.add_request_error(error)
            else:
                return redirect("screening_detail", screening_id=screening.pk)
    else:
        form = ScreeningForm(initial=screening_initial(patient))
    return render(request, "isoguard/screening_form.html", {"patient": patient, "form": form})


@login_required
def screening_detail(request: HttpRequest, screening_id: int) -> HttpResponse:
    """Show a screening: in full to the clinic, in plain words to the patient or guardian."""
    user: User = request.user  # type: ignore[assignment]
    screening = get_object_or_404(Screening, pk=screening_id)
    require_role(user, (*CLINIC_ROLES, Role.PATIENT, Role.GUARDIAN), action="view",
                 obj=screening, patient_id=screening.patient_id, request=request)  # fmt: skip
    patient = patient_for(user, screening.patient_id, request=request)
    if user.role in CLINIC_ROLES:
        return render_detail(request, screening, patient)
    return render(
        request, "isoguard/screening_patient.html", {"screening": screening, "patient": patient}
    )


def render_detail(
    request: HttpRequest,
    screening: Screening,
    patient: object,
    start_form: StartCourseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    safe = [(p["product"], p["name"]) for p in screening.result["safe_products"]]
    start_form = start_form or StartCourseForm(safe_products=safe)
    findings = screening.result["findings"]
    context = {
        "screening": screening,
        "patient": patient,
        "start_form": start_form,
        "contraindications": [f for f in findings if f["severity"] == "contraindication"],
        "cautions": [f for f in findings if f["severity"] == "caution"],
        "information": [f for f in findings if f["severity"] == "info"],
        "is_latest": not Screening.objects.filter(
            patient_id=screening.patient_id, performed_at__gt=screening.performed_at
        ).exists(),
    }
    return render(request, "isoguard/screening_detail.html", context, status=status)


@login_required
@require_POST
def screening_start_course(request: HttpRequest, screening_id: int) -> HttpResponse:
    """Start the patient's course from this screening, or show why it cannot start."""
    user: User = request.user  # type: ignore[assignment]
    screening = get_object_or_404(Screening, pk=screening_id)
    services.require_prescriber(
        user, patient_id=screening.patient_id, action="start_course", request=request
    )
    patient = patient_for(user, screening.patient_id, request=request)
    safe = [(p["product"], p["name"]) for p in screening.result["safe_products"]]
    form = StartCourseForm(request.POST, safe_products=safe)
    if form.is_valid():
        try:
            course = services.course_start_from_screening(
                user=user, screening_id=screening.pk, product=form.cleaned_data["product"],
                acknowledge_cautions=form.cleaned_data["acknowledge_cautions"], request=request,
            )  # fmt: skip
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, error.messages)
        else:
            messages.success(
                request,
                f"Course {course.number} planned: {course.product}, programme {course.rule_pack}.",
            )
            return redirect("patient_detail", patient_id=patient.pk)
    return render_detail(request, screening, patient, start_form=form, status=400)
