"""The patient's monthly checklist: comprehension questions, contraception, Medication Guide."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.audit.services import audit_record
from isoguard.core.comprehension import Question, Result, questions_for, score
from isoguard.core.vocabulary import Jurisdiction, MonthlyCheckKind, Role
from isoguard.courses.models import Course, MedicationGuideAck, MonthlyCheck, Prescription
from isoguard.courses.programme_services import medication_guide_ack
from isoguard.patients.access import patient_for, require_role

PATIENT_ROLES = (Role.PATIENT, Role.GUARDIAN)


def patients_course(user: User, course_id: int, action: str, request: HttpRequest | None) -> Course:
    """Return the course if `user` is its patient or their guardian (audited either way)."""
    course = Course.objects.select_related("patient").get(pk=course_id)
    require_role(
        user,
        PATIENT_ROLES,
        action=action,
        obj=course,
        patient_id=course.patient_id,
        request=request,
    )
    patient_for(user, course.patient_id, action=action, request=request)
    return course


def course_month(course: Course, today: dt.date) -> int:
    """Return the month of the course (1 for the month it started), for choosing questions."""
    start = course.enrolled_on or course.created_at.date()
    return max(1, (today.year * 12 + today.month) - (start.year * 12 + start.month) + 1)


def month_questions(course: Course, today: dt.date) -> tuple[Question, ...]:
    potential = course.patient.pregnancy_potential_assessments.first()
    return questions_for(
        course_key=f"course-{course.pk}", month=course_month(course, today),
        jurisdiction=Jurisdiction(course.patient.jurisdiction),
        can_become_pregnant=potential is None or potential.can_become_pregnant,
    )  # fmt: skip


def comprehension_answer(
    *, user: User, course_id: int, answers: dict[str, int], request: HttpRequest | None = None
) -> tuple[MonthlyCheck, Result]:
    """Score this month's answers (all must be right) and record the attempt."""
    course = patients_course(user, course_id, "answer_comprehension", request)
    today = timezone.localdate()
    questions = month_questions(course, today)
    try:
        result = score(questions, answers)
    except ValueError as error:
        raise ValidationError({"answers": str(error)}) from None
    with transaction.atomic():
        check = MonthlyCheck.objects.create(
            course=course, kind=MonthlyCheckKind.COMPREHENSION, done_on=today,
            passed=result.passed,
            answers={a.question_id: {"chosen": a.chosen, "right": a.right} for a in result.answers},
            recorded_by=user,
        )  # fmt: skip
        audit_record(
            actor=user,
            action="create",
            obj=check,
            patient_id=course.patient_id,
            request=request,
            detail={"passed": result.passed},
        )
    return check, result


def contraception_confirm(
    *, user: User, course_id: int, request: HttpRequest | None = None
) -> MonthlyCheck:
    """Record the patient's monthly confirmation of the contraception they use."""
    course = patients_course(user, course_id, "confirm_contraception", request)
    with transaction.atomic():
        check = MonthlyCheck.objects.create(
            course=course,
            kind=MonthlyCheckKind.CONTRACEPTION_CONFIRMED,
            done_on=timezone.localdate(),
            recorded_by=user,
        )
        audit_record(
            actor=user, action="create", obj=check, patient_id=course.patient_id, request=request
        )
    return check


def medication_guide_acknowledge(
    *, user: User, prescription_id: int, request: HttpRequest | None = None
) -> MedicationGuideAck:
    """The patient acknowledges the Medication Guide for this fill (once per prescription)."""
    rx = Prescription.objects.select_related("course").filter(pk=prescription_id).first()
    if rx is None:
        raise ValidationError({"prescription": "No such prescription."})
    patients_course(user, rx.course_id, "acknowledge_medication_guide", request)
    if hasattr(rx, "dispense"):
        raise ValidationError("This prescription was already dispensed.")
    return medication_guide_ack(rx, user, request)
