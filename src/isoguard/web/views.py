"""Pages: one home per role, and the patient record. Each view checks access, then renders."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from isoguard.accounts.models import Organisation, User
from isoguard.audit.services import audit_record
from isoguard.core.helplines import COUNTRY_CHOICES
from isoguard.core.triage import load_checklist
from isoguard.core.vocabulary import CourseStatus, Role
from isoguard.courses import mood_services, report_services
from isoguard.courses import selectors as course_selectors
from isoguard.courses.convert import course_record
from isoguard.courses.models import OPEN_STATUSES
from isoguard.courses.worklist import pharmacy_worklist
from isoguard.patients import services as patient_services
from isoguard.patients.access import patient_for, patients_visible_to
from isoguard.screenings.selectors import screenings_of
from isoguard.web.dosing_views import progress_context
from isoguard.web.lab_views import labs_context
from isoguard.web.month import month_grid

HOME_TEMPLATES = {
    Role.PRESCRIBER: "isoguard/home_clinic.html",
    Role.CLINIC_STAFF: "isoguard/home_clinic.html",
    Role.PHARMACIST: "isoguard/home_pharmacist.html",
    Role.PATIENT: "isoguard/home_patient.html",
    Role.GUARDIAN: "isoguard/home_guardian.html",
    Role.ADMINISTRATOR: "isoguard/home_administrator.html",
}


def pharmacy_of(user: User) -> int:
    """Return the pharmacist's pharmacy id, or refuse with what to do if there is none."""
    if user.organisation_id is None:
        raise PermissionDenied("Your account is not linked to a pharmacy: ask an administrator.")
    return user.organisation_id


def audit_list(user: User, request: HttpRequest, object_type: str, patient_ids: list[int]) -> None:
    audit_record(
        actor=user,
        action="list",
        object_type=object_type,
        request=request,
        detail={"patient_ids": patient_ids},
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Show the signed-in user the home page of their role."""
    user: User = request.user  # type: ignore[assignment]
    role = Role(user.role)
    context: dict[str, object] = {"today": timezone.localdate()}
    if role in (Role.PRESCRIBER, Role.CLINIC_STAFF, Role.GUARDIAN):
        patients = list(course_selectors.patients_with_courses(patients_visible_to(user)))
        context["patients"] = patients
        audit_list(user, request, "patients.patient", [p.pk for p in patients])
        if role != Role.GUARDIAN:
            worklist = list(report_services.worklist(user))
            context["worklist"] = worklist
            audit_list(user, request, "courses.symptomreport",
                       sorted({r.patient_id for r in worklist}))  # fmt: skip
    elif role == Role.PHARMACIST:
        prescriptions = list(course_selectors.prescriptions_presented_at(pharmacy_of(user)))
        context["prescriptions"] = prescriptions
        context["to_fill"] = pharmacy_worklist(pharmacy_of(user), timezone.localdate())
        audit_list(
            user,
            request,
            "patients.patient",
            sorted({rx.course.patient_id for rx in prescriptions}),
        )
    elif role == Role.PATIENT:
        patient = patients_visible_to(user).first()
        if patient is not None:
            patient = patient_for(user, patient.pk, request=request)
            active = patient.courses.filter(status=CourseStatus.ACTIVE).first()
            timeline = None
            if active is not None:
                # The record and timeline are read once, for the month and the steps below.
                record = course_record(active)
                timeline = course_selectors.course_timeline(active, record=record)
                context.update(
                    active_course=active,
                    month=month_grid(
                        active, timezone.localdate(), record=record, timeline=timeline
                    ),
                    **progress_context(active, timezone.localdate()),
                )
            latest = patient.courses.order_by("-number").first()
            if latest is not None:
                same = active is not None and latest.pk == active.pk
                context["timeline"] = timeline if same else course_selectors.course_timeline(latest)
            context.update(
                patient=patient,
                checklist=load_checklist(),
                mood_due=mood_services.mood_check_due(patient, timezone.localdate()),
                reports=list(report_services.reports_of(patient, user)[:10]),
                screening=screenings_of(patient).first(),
                **course_selectors.patient_record(patient, today=timezone.localdate()),
            )
    elif role == Role.ADMINISTRATOR:
        context["organisations"] = Organisation.objects.filter(external=False)
        context["user_count"] = User.objects.count()
    return render(request, HOME_TEMPLATES[role], context)


@login_required
@require_POST
def patient_country(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The clinic records the patient's country (emergency and crisis numbers)."""
    user: User = request.user  # type: ignore[assignment]
    try:
        patient_services.patient_country_set(
            user=user, patient_id=patient_id, country=request.POST.get("country", ""),
            request=request,
        )  # fmt: skip
        messages.success(request, "Country recorded.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("patient_detail", patient_id=patient_id)


@login_required
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Show one patient's record to someone allowed to see it; refuse (403) anyone else."""
    user: User = request.user  # type: ignore[assignment]
    patient = patient_for(user, patient_id, request=request)
    context: dict[str, object] = {"patient": patient, "today": timezone.localdate()}
    if user.role == Role.PHARMACIST:
        # A pharmacist sees the patient through the prescriptions presented at their pharmacy only.
        context["prescriptions"] = course_selectors.prescriptions_presented_at(
            pharmacy_of(user)
        ).filter(course__patient=patient)
        return render(request, "isoguard/patient_pharmacy.html", context)
    context.update(course_selectors.patient_record(patient, today=timezone.localdate()))
    context["screenings"] = list(screenings_of(patient)[:10])
    context["reports"] = list(report_services.reports_of(patient, user)[:20])
    context["mood_due"] = mood_services.mood_check_due(patient, timezone.localdate())
    if user.role in patient_services.CLINIC_ROLES:
        context["helplines"] = report_services.country_of(patient)
        context["country_choices"] = COUNTRY_CHOICES
        running = patient.courses.filter(status__in=OPEN_STATUSES).first()
        context.update(labs_context(patient, running, timezone.localdate()))
    if user.role in mood_services.SCREEN_ROLES:
        context["mood_assessments"] = list(patient.mood_assessments.order_by("-assessed_on")[:10])
    latest = patient.courses.order_by("-number").first()
    context["timeline"] = course_selectors.course_timeline(latest) if latest else ()
    return render(request, "isoguard/patient_detail.html", context)


def healthz(request: HttpRequest) -> HttpResponse:
    """Answer a load balancer or a start-up script: the app is up."""
    return HttpResponse("ok\n", content_type="text/plain")
