"""Writes of the programme's steps in the clinic: enrolment, forms, tests, contraception, visits.

Each service checks who may do it, writes in one transaction with its audit event, and refuses
what cannot be right with the field named (a date out of its window too: dates.py). Prescribing
and the first dose go through the engine.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from isoguard.accounts.models import Organisation, User
from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.core import model
from isoguard.core.knowledge.codes import load_codes
from isoguard.core.vocabulary import (
    Action,
    ConsentKind,
    ContraceptionMethod,
    CourseStatus,
    MonthlyCheckKind,
    PregnancyTestResult,
    PregnancyTestSetting,
    Role,
)
from isoguard.courses import due
from isoguard.courses.dates import date_in_window
from isoguard.courses.dosing_selectors import dose_plan_in_force
from isoguard.courses.models import (
    Consent,
    ContraceptionPlan,
    Course,
    MonthlyCheck,
    PregnancyTest,
    Prescription,
    ProgrammeDecision,
)
from isoguard.courses.programme_services import decision_store, engine_decision
from isoguard.patients.access import patient_for, require_role
from isoguard.patients.models import PregnancyPotential

CLINIC_ROLES = (Role.PRESCRIBER, Role.CLINIC_STAFF)


def _course_for(
    user: User, course_id: int, action: str, roles: tuple[Role, ...], request: HttpRequest | None
) -> Course:
    course = Course.objects.select_related("patient").get(pk=course_id)
    require_role(
        user, roles, action=action, obj=course, patient_id=course.patient_id, request=request
    )
    patient_for(user, course.patient_id, action=action, request=request)
    return course


def _saved(user: User, row: object, course: Course, request: HttpRequest | None) -> None:
    audit_record(
        actor=user,
        action="create",
        obj=row,
        patient_id=course.patient_id,  # type: ignore[arg-type]
        request=request,
    )


def enrolment_record(
    *, user: User, course_id: int, enrolled_on: dt.date, request: HttpRequest | None = None
) -> Course:
    """Record that the patient is enrolled in the course's programme (iPLEDGE in the US)."""
    course = _course_for(user, course_id, "enrol", (Role.PRESCRIBER,), request)
    date_in_window(enrolled_on, "enrolled_on", born=course.patient.birth_date)
    with transaction.atomic():
        Course.objects.filter(pk=course.pk).update(
            enrolled_on=enrolled_on,
            status=CourseStatus.ENROLLED
            if course.status == CourseStatus.SCREENING
            else course.status,
        )
        due.changed(course_ids=[course.pk])  # an update() sends no signal
        course.refresh_from_db()
        audit_record(
            actor=user,
            action="enrol",
            obj=course,
            patient_id=course.patient_id,
            request=request,
            detail={"enrolled_on": enrolled_on.isoformat()},
        )
    return course


def pregnancy_potential_record(
    *,
    user: User,
    course_id: int,
    can_become_pregnant: bool,
    reason: str,
    request: HttpRequest | None = None,
) -> PregnancyPotential:
    """Set whether the patient can become pregnant, with the reason (the programme category)."""
    course = _course_for(user, course_id, "set_category", (Role.PRESCRIBER,), request)
    if not reason.strip():
        raise ValidationError({"reason": "Say why (for example: has periods; no uterus)."})
    with transaction.atomic():
        row = PregnancyPotential.objects.create(
            patient=course.patient, can_become_pregnant=can_become_pregnant, reason=reason.strip(),
            assessed_on=timezone.localdate(), assessed_by=user,
        )  # fmt: skip
        _saved(user, row, course, request)
    return row


def consent_record(
    *,
    user: User,
    course_id: int,
    kind: str,
    signed_on: dt.date,
    document_version: str,
    guardian_signed: bool = False,
    request: HttpRequest | None = None,
) -> Consent:
    """Record a signed form with the version of the document signed."""
    course = _course_for(user, course_id, "record_consent", CLINIC_ROLES, request)
    date_in_window(signed_on, "signed_on", born=course.patient.birth_date)
    if not document_version.strip():
        raise ValidationError({"document_version": "Give the version or date of the form signed."})
    if course.patient.age_on(signed_on) < 18 and not guardian_signed:
        raise ValidationError(
            {
                "guardian_signed": "The patient is under 18: a parent or guardian "
                "signs too (programs.md 1.2)."
            }
        )
    with transaction.atomic():
        row = Consent.objects.create(
            course=course, kind=ConsentKind(kind), signed_on=signed_on,
            document_version=document_version.strip(), guardian_signed=guardian_signed,
            recorded_by=user,
        )  # fmt: skip
        _saved(user, row, course, request)
    return row


LATER_END = (
    "leave the end empty while the method goes on past then (an IUD or an implant kept for "
    "years); record its end when it stops"
)
"""The way forward for a plan that ends more than a year ahead: an open plan counts as in use
until an end is recorded, which is what a later end date would say for the whole course."""


def contraception_record(
    *,
    user: User,
    course_id: int,
    methods: list[str],
    start: dt.date,
    end: dt.date | None = None,
    request: HttpRequest | None = None,
) -> ContraceptionPlan:
    """Record the contraception the patient uses from `start` (abstinence stands alone)."""
    course = _course_for(user, course_id, "record_contraception", CLINIC_ROLES, request)
    chosen = [ContraceptionMethod(m) for m in methods]
    if not chosen:
        raise ValidationError({"methods": "Choose at least one method, or abstinence."})
    if ContraceptionMethod.ABSTINENCE in chosen and len(chosen) > 1:
        raise ValidationError({"methods": "Abstinence stands alone: choose it without methods."})
    # A plan may be recorded ahead of the day it starts (or ends); the rules count it from then.
    date_in_window(start, "start", born=course.patient.birth_date, ahead=True)
    if end is not None:
        date_in_window(end, "end", born=course.patient.birth_date, ahead=True, later=LATER_END)
    if end is not None and end < start:
        raise ValidationError({"end": "The end cannot come before the start."})
    with transaction.atomic():
        row = ContraceptionPlan.objects.create(
            course=course, methods=[m.value for m in chosen], start=start, end=end, recorded_by=user
        )
        _saved(user, row, course, request)
    return row


def pregnancy_test_record(
    *,
    user: User,
    course_id: int,
    specimen_date: dt.date,
    result: str,
    setting: str,
    loinc_code: str = "",
    request: HttpRequest | None = None,
) -> PregnancyTest:
    """Record a pregnancy test; a positive one is flagged at once in the audit trail."""
    course = _course_for(user, course_id, "record_pregnancy_test", CLINIC_ROLES, request)
    date_in_window(specimen_date, "specimen_date", born=course.patient.birth_date)
    known = {c.loinc for c in load_codes().pregnancy_tests}
    if loinc_code and loinc_code not in known:
        raise ValidationError(
            {"loinc_code": f"Not a pregnancy-test LOINC code; known: {', '.join(sorted(known))}."}
        )
    with transaction.atomic():
        row = PregnancyTest.objects.create(
            patient=course.patient, course=course, specimen_date=specimen_date,
            result=PregnancyTestResult(result), setting=PregnancyTestSetting(setting),
            loinc_code=loinc_code, recorded_by=user,
        )  # fmt: skip
        audit_record(
            actor=user,
            action="create",
            obj=row,
            patient_id=course.patient_id,
            request=request,
            detail={"result": result},
        )
    return row


def counselling_record(
    *, user: User, course_id: int, done_on: dt.date, request: HttpRequest | None = None
) -> MonthlyCheck:
    """Record this month's counselling."""
    course = _course_for(user, course_id, "record_counselling", CLINIC_ROLES, request)
    date_in_window(done_on, "done_on", born=course.patient.birth_date)
    with transaction.atomic():
        row = MonthlyCheck.objects.create(
            course=course, kind=MonthlyCheckKind.COUNSELLING, done_on=done_on, recorded_by=user
        )
        _saved(user, row, course, request)
    return row


def prescription_write(
    *,
    user: User,
    course_id: int,
    days_supply: int,
    pharmacy_id: int | None = None,
    request: HttpRequest | None = None,
) -> tuple[ProgrammeDecision, Prescription | None]:
    """Write this month's prescription if the engine allows it; else keep the refusal and why.

    The daily dose comes from the dose plan in force; the quantity covers `days_supply` days of
    two doses. Nothing is written when the engine refuses.
    """
    course = _course_for(user, course_id, "prescribe", (Role.PRESCRIBER,), request)
    if not 1 <= days_supply <= 30:
        raise ValidationError({"days_supply": "Between 1 and 30 days."})
    today = timezone.localdate()
    plan = dose_plan_in_force(course, today)
    if plan is None:
        raise ValidationError("Set the dose first (Dose and progress), then prescribe.")
    if (
        pharmacy_id is not None
        and not Organisation.objects.filter(
            pk=pharmacy_id, kind="pharmacy", external=False
        ).exists()
    ):
        raise ValidationError({"pharmacy": "Choose a pharmacy."})
    now = timezone.now()
    candidate = model.Prescription(today, days_supply=days_supply, refills=0)
    decision = engine_decision(course, Action.PRESCRIBE, now, extra=(candidate,))
    with transaction.atomic():
        stored = decision_store(decision, course, None, user, now)
        audit_record(
            actor=user,
            action="prescribe",
            obj=stored,
            patient_id=course.patient_id,
            request=request,
            outcome=AuditEvent.Outcome.ALLOWED if decision.allowed else AuditEvent.Outcome.REFUSED,
        )
        if not decision.allowed:
            return stored, None
        # The plan's capsules for a day (the database holds daily_mg to the two doses), times the
        # days of supply.
        capsules_per_day = sum(c["count"] for d in plan.plan["doses"] for c in d["capsules"])
        quantity = capsules_per_day * days_supply
        rx = Prescription.objects.create(
            course=course, prescriber=user, written_on=today, days_supply=days_supply,
            refills=0, daily_dose_mg=plan.daily_mg, quantity=quantity, pharmacy_id=pharmacy_id,
        )  # fmt: skip
        stored.prescription = rx
        stored.save(update_fields=["prescription"])
        _saved(user, rx, course, request)
    return stored, rx


def course_start(
    *, user: User, course_id: int, request: HttpRequest | None = None
) -> tuple[ProgrammeDecision, Course]:
    """Record today's first dose if the engine allows the course to start."""
    course = _course_for(user, course_id, "start_course", (Role.PRESCRIBER,), request)
    if course.first_dose_on is not None:
        raise ValidationError(f"The course started on {course.first_dose_on}.")
    now = timezone.now()
    decision = engine_decision(course, Action.START_COURSE, now)
    with transaction.atomic():
        stored = decision_store(decision, course, None, user, now)
        if decision.allowed:
            Course.objects.filter(pk=course.pk).update(
                first_dose_on=timezone.localdate(), status=CourseStatus.ACTIVE
            )
            due.changed(course_ids=[course.pk])  # an update() sends no signal
            course.refresh_from_db()
        audit_record(
            actor=user,
            action="start_course",
            obj=stored,
            patient_id=course.patient_id,
            request=request,
            outcome=AuditEvent.Outcome.ALLOWED if decision.allowed else AuditEvent.Outcome.REFUSED,
        )
    return stored, course
