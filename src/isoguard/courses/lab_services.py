"""Lab monitoring in the clinic: results recorded with their units, thresholds checked, the
schedule of the clinic's choice, and a result over a threshold on the worklist until reviewed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.audit.services import audit_record
from isoguard.core.labs import LabDue, LabInputError, check_result, labs_due, load_labs
from isoguard.core.model import CourseRecord
from isoguard.core.vocabulary import CourseStatus, LabTest, Role
from isoguard.courses.convert import course_record
from isoguard.courses.dates import date_in_window
from isoguard.courses.models import OPEN_STATUSES, Course, LabResult
from isoguard.patients.access import patient_for, require_role

CLINIC_ROLES = (Role.PRESCRIBER, Role.CLINIC_STAFF)


def lab_record(
    *,
    user: User,
    patient_id: int,
    test: str,
    value: str | float | Decimal,
    unit: str,
    taken_on: dt.date,
    fasting: bool | None = None,
    request: HttpRequest | None = None,
) -> LabResult:
    """Record one result as reported (value and unit), with the thresholds it crosses.

    Raises ValidationError naming the field: an unknown test or unit, a value that is not a
    positive number, a date before the patient's birth or after today. Nothing is stored then.
    """
    require_role(user, CLINIC_ROLES, action="record_lab", patient_id=patient_id, request=request)
    patient = patient_for(user, patient_id, action="record_lab", request=request)
    lab = checked_lab(test, value, unit, taken_on, born=patient.birth_date)
    lab.patient, lab.recorded_by, lab.fasting = patient, user, fasting
    lab.course = patient.courses.filter(status=CourseStatus.ACTIVE).first()
    with transaction.atomic():
        lab.save()
        audit_record(actor=user, action="create", obj=lab, patient_id=patient.pk,
                     request=request, detail={"findings": len(lab.findings)})  # fmt: skip
    return lab


def checked_lab(
    test: str, value: str | float | Decimal, unit: str, taken_on: dt.date, *, born: dt.date
) -> LabResult:
    """An unsaved result, checked (test, value, unit, date) and with the clinic's thresholds it
    crosses; the one way in for a result typed on the page or imported by FHIR. Raises
    ValidationError naming the field: test, value, unit or taken_on (from the patient's birth
    date `born` to today)."""
    labs = load_labs()
    try:
        lab_test = LabTest(test)
    except ValueError:
        allowed = ", ".join(t.value for t in LabTest)
        raise ValidationError({"test": f"expected one of {allowed}, got {test!r}"}) from None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError({"value": f"expected a number, got {value!r}"}) from None
    if not amount.is_finite() or amount <= 0 or amount >= Decimal("1000000"):
        raise ValidationError({"value": f"expected a positive number, got {value!r}"})
    date_in_window(taken_on, "taken_on", born=born)
    amount = amount.quantize(Decimal("0.01"))  # the value stored and shown is the one checked
    try:
        info = labs.test(lab_test)
        unit_name = info.unit(unit).name
        found = check_result(lab_test, float(amount), unit_name, thresholds=thresholds() or None)
    except LabInputError as error:
        raise ValidationError({error.field: error.message}) from None
    return LabResult(
        test=lab_test, loinc_code=info.loinc.code, value=amount, unit=unit_name,
        taken_on=taken_on,
        findings=[{"level": f.level.value, "action": f.action, "source": f.source,
                   "threshold": f"{f.threshold.value:g} {f.threshold.unit}"} for f in found],
    )  # fmt: skip


def lab_review(*, user: User, lab_id: int, request: HttpRequest | None = None) -> LabResult:
    """Mark a result over a threshold as seen by the clinic: it leaves the worklist."""
    lab = LabResult.objects.select_related("patient").filter(pk=lab_id).first()
    if lab is None:
        raise Http404("No such lab result.")
    require_role(user, CLINIC_ROLES, action="review_lab", obj=lab, patient_id=lab.patient_id,
                 request=request)  # fmt: skip
    patient_for(user, lab.patient_id, action="review_lab", request=request)
    with transaction.atomic():
        changed = LabResult.objects.filter(pk=lab_id, reviewed_at__isnull=True).update(
            reviewed_by=user, reviewed_at=timezone.now()
        )
        if changed:
            audit_record(actor=user, action="review", obj=lab, patient_id=lab.patient_id,
                         request=request)  # fmt: skip
    lab.refresh_from_db()
    return lab


def thresholds() -> dict[str, object]:
    return settings.ISOGUARD_LAB_THRESHOLDS


def schedule_for(course: Course) -> str:
    return settings.ISOGUARD_LAB_SCHEDULE.get(course.rule_pack, load_labs().schedule.default)


def peak_dose_from(course: Course) -> dt.date | None:
    """The day the course's highest daily dose began (its dose plans, prefetched or not)."""
    return peak_started(course.dose_plans.all())


def peak_started(plans: Iterable[Any]) -> dt.date | None:
    """The day the highest daily dose of these plans (rows with effective_from, id, daily_mg)
    began; None without a plan."""
    ordered = sorted(plans, key=lambda p: (p.effective_from, p.id))
    if not ordered:
        return None
    peak = max(p.daily_mg for p in ordered)
    return next(p.effective_from for p in ordered if p.daily_mg == peak)


def course_labs_due(
    course: Course,
    today: dt.date,
    *,
    record: CourseRecord | None = None,
    plans: Iterable[Any] | None = None,
) -> tuple[LabDue, ...]:
    """The lab tests the course needs now under the clinic's schedule for its pack (`record` and
    its dose `plans`: when the caller has read them)."""
    if course.status not in OPEN_STATUSES:
        return ()
    return labs_due(
        record or course_record(course), today, schedule=schedule_for(course),
        peak_started=peak_dose_from(course) if plans is None else peak_started(plans),
    )  # fmt: skip


def open_findings(labs: list[LabResult]) -> list[LabResult]:
    """Results over a threshold that nobody has reviewed yet, oldest first: each stays until
    someone has looked at it, even when a newer result is normal."""
    return sorted(
        (lab for lab in labs if lab.findings and lab.reviewed_at is None),
        key=lambda lab: (lab.taken_on, lab.pk),
    )
