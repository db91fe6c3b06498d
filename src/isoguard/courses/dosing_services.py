"""Writes for dosing: the prescriber sets the dose; the patient ticks the doses taken."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.audit.services import audit_record
from isoguard.core.dosing import DosingError, plan_course
from isoguard.core.vocabulary import CourseStatus, DoseTime, Role
from isoguard.courses import due
from isoguard.courses.dates import date_in_window
from isoguard.courses.dosing_selectors import dose_plan_in_force, excluded_strengths
from isoguard.courses.models import Course, DoseDiaryEntry, DosePlan
from isoguard.patients.access import patient_for, require_role
from isoguard.patients.models import WeightMeasurement

DIARY_ROLES = (Role.PATIENT, Role.GUARDIAN)


def dose_plan_set(
    *,
    user: User,
    course_id: int,
    mg_per_kg_day: Decimal,
    target_mg_per_kg: int,
    effective_from: dt.date,
    weight_kg: Decimal | None = None,
    reason: str = "",
    request: HttpRequest | None = None,
) -> DosePlan:
    """Plan the course's dose from `effective_from` on and keep it, with the history.

    A new weight is recorded on the patient first. Raises DosingError naming the field for a
    dose, weight or target the planner refuses, and ValidationError for an effective_from out of
    its window (dates.py); nothing is stored then.
    """
    course = Course.objects.select_related("patient").get(pk=course_id)
    require_role(
        user,
        (Role.PRESCRIBER,),
        action="set_dose",
        obj=course,
        patient_id=course.patient_id,
        request=request,
    )
    patient = patient_for(user, course.patient_id, action="set_dose", request=request)
    if course.status in (CourseStatus.COMPLETED, CourseStatus.STOPPED):
        raise ValidationError(f"Course {course.number} is {course.status}: its dose is final.")
    # A dose may be planned from a coming day, so effective_from may lie ahead (not years ahead).
    date_in_window(effective_from, "effective_from", born=patient.birth_date, ahead=True)
    latest = patient.weights.first()
    if weight_kg is None:
        if latest is None:
            raise DosingError("weight_kg", "no weight is recorded: enter the patient's weight")
        weight_kg = latest.weight_kg
    plan = plan_course(
        weight_kg=float(weight_kg), product=course.product, start=effective_from,
        mg_per_kg_day=float(mg_per_kg_day), target_mg_per_kg=target_mg_per_kg,
        exclude_strengths=excluded_strengths(course),
    )  # fmt: skip
    morning, evening = (d.mg for d in plan.daily.doses)
    with transaction.atomic():
        if latest is None or latest.weight_kg != weight_kg:
            weight = WeightMeasurement.objects.create(
                patient=patient, measured_on=timezone.localdate(), weight_kg=weight_kg,
                recorded_by=user,
            )  # fmt: skip
            audit_record(actor=user, action="create", obj=weight, patient_id=patient.pk,
                         request=request)  # fmt: skip
        dose_plan = DosePlan.objects.create(
            course=course, effective_from=effective_from, weight_kg=weight_kg,
            mg_per_kg_day=mg_per_kg_day, target_mg_per_kg=target_mg_per_kg,
            daily_mg=plan.daily.mg, morning_mg=morning, evening_mg=evening,
            plan=plan.to_dict(), reason=reason, set_by=user,
        )  # fmt: skip
        Course.objects.filter(pk=course.pk).update(target_mg_per_kg=target_mg_per_kg)
        due.changed(course_ids=[course.pk])  # an update() sends no signal
        audit_record(
            actor=user,
            action="create",
            obj=dose_plan,
            patient_id=patient.pk,
            request=request,
            detail={"daily_mg": plan.daily.mg, "effective_from": str(effective_from)},
        )
    return dose_plan


def diary_record(
    *,
    user: User,
    course_id: int,
    day: dt.date,
    time: DoseTime | str,
    taken: bool,
    request: HttpRequest | None = None,
) -> DoseDiaryEntry:
    """Record one dose as taken or missed (a correction replaces the earlier answer).

    A missed dose is skipped, never doubled: there is one entry per dose, and its amount is the
    dose planned for that time, whatever was missed before.
    """
    course = Course.objects.select_related("patient").get(pk=course_id)
    require_role(
        user,
        DIARY_ROLES,
        action="record_dose",
        obj=course,
        patient_id=course.patient_id,
        request=request,
    )
    patient_for(user, course.patient_id, action="record_dose", request=request)
    time = DoseTime(time)
    if course.first_dose_on is None or course.status != CourseStatus.ACTIVE:
        raise ValidationError(
            "The diary opens when the course is active and its first dose "
            "is recorded by the clinic."
        )
    date_in_window(
        day, "day", born=course.patient.birth_date, after=(course.first_dose_on, "the first dose")
    )
    plan = dose_plan_in_force(course, day)
    if plan is None:
        raise ValidationError("The prescriber has not set a dose for that day yet.")
    with transaction.atomic():
        entry, created = DoseDiaryEntry.objects.update_or_create(
            course=course, day=day, time=time,
            defaults={"taken": taken, "dose_mg": plan.dose_mg(time), "recorded_by": user},
        )  # fmt: skip
        audit_record(
            actor=user,
            action="create" if created else "update",
            obj=entry,
            patient_id=course.patient_id,
            request=request,
            detail={"day": day.isoformat(), "time": time.value, "taken": taken},
        )
    return entry
