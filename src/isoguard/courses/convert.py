"""The one boundary between database rows and the core's types (`isoguard.core.model`)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import router
from django.db.models import Model

from isoguard.core import model
from isoguard.core.vocabulary import (
    ConsentKind,
    ContraceptionMethod,
    DoseTime,
    Jurisdiction,
    LabTest,
    MonthlyCheckKind,
    MoodTool,
    PregnancyTestResult,
    PregnancyTestSetting,
    Product,
)
from isoguard.courses.models import (
    Consent,
    ContraceptionPlan,
    Course,
    DoseDiaryEntry,
    LabResult,
    MonthlyCheck,
    MoodAssessment,
    PregnancyTest,
    Prescription,
)
from isoguard.operations.prepared import PreparedValues, read_together
from isoguard.patients.models import PregnancyPotential, WeightMeasurement

T = TypeVar("T")


# What course_record reads, for prefetch_related when a few courses are read at once; many are
# read faster with course_records().
RECORD_PREFETCH = (
    "patient__pregnancy_potential_assessments",
    "consents",
    "contraception",
    "patient__pregnancy_tests",
    "monthly_checks",
    "patient__mood_assessments",
    "patient__labs",
    "prescriptions__dispense",
    "prescriptions__medication_guide_ack",
    "patient__weights",
    "diary",
)


def _by(rows: Iterable[T], *keys: str) -> list[T]:
    """Rows sorted in Python, so that prefetched rows are used as they are."""
    return sorted(rows, key=lambda row: tuple(getattr(row, k) for k in keys))


def course_record(course: Course) -> model.CourseRecord:
    """Return the course with every event recorded for it, as the rule engine reads it.

    It reads related rows with .all() only, so a course fetched with RECORD_PREFETCH costs no
    further query. To read many courses, course_records() is faster still.
    """
    patient = course.patient
    potential = next(iter(patient.pregnancy_potential_assessments.all()), None)
    return _record(
        course,
        can_become_pregnant=potential.can_become_pregnant if potential else None,
        consents=course.consents.all(),
        plans=course.contraception.all(),
        tests=patient.pregnancy_tests.all(),
        checks=course.monthly_checks.all(),
        moods=patient.mood_assessments.all(),
        labs=patient.labs.all(),
        prescriptions=[_RxRow.of(rx) for rx in course.prescriptions.all()],
        weights=patient.weights.all(),
        diary=course.diary.all(),
    )


@dataclass(frozen=True)
class _RxRow:
    """A prescription with what became of it: its fill and its Medication Guide acknowledgement."""

    id: int
    written_on: dt.date
    days_supply: int
    refills: int
    cancelled_at: dt.datetime | None
    dispensed_on: dt.date | None
    dispensed_days: int | None
    acknowledged_on: dt.date | None

    @classmethod
    def of(cls, rx: Prescription) -> _RxRow:
        # A missing reverse one-to-one raises an AttributeError subclass, hence getattr's default.
        dispense = getattr(rx, "dispense", None)
        ack = getattr(rx, "medication_guide_ack", None)
        return cls(
            rx.pk, rx.written_on, rx.days_supply, rx.refills, rx.cancelled_at,
            dispense.dispensed_on if dispense else None,
            dispense.days_supply if dispense else None,
            ack.acknowledged_on if ack else None,
        )  # fmt: skip


# The rows course_records() reads, each compiled once (prepared.py): one query per kind of row
# for any number of courses.
_POTENTIALS = PreparedValues(
    "potential",
    lambda ids: PregnancyPotential.objects.filter(patient_id__in=ids).order_by(
        "-assessed_on", "-recorded_at", "-id"  # the model's order: newest first
    ),
    "patient_id", "can_become_pregnant",
)  # fmt: skip


def _rows_of(model_class: type[Model], key: str, *fields: str) -> PreparedValues:
    """The rows of `model_class` whose `key` (course_id or patient_id) is one of the ids."""
    return PreparedValues(
        model_class.__name__,
        lambda ids: model_class._default_manager.filter(**{f"{key}__in": ids}),
        key,
        *fields,
    )


_CONSENTS = _rows_of(Consent, "course_id", "kind", "signed_on", "id")
_PLANS = _rows_of(ContraceptionPlan, "course_id", "methods", "start", "end", "id")
_CHECKS = _rows_of(MonthlyCheck, "course_id", "kind", "done_on", "passed", "id")
_TESTS = _rows_of(PregnancyTest, "patient_id", "specimen_date", "result", "setting", "id")
_MOODS = _rows_of(MoodAssessment, "patient_id", "tool", "score", "assessed_on", "id")
_LABS = _rows_of(LabResult, "patient_id", "test", "value", "unit", "taken_on", "id")
_WEIGHTS = _rows_of(WeightMeasurement, "patient_id", "measured_on", "weight_kg", "id")
_PRESCRIPTIONS = _rows_of(
    Prescription, "course_id", "id", "written_on", "days_supply", "refills", "cancelled_at",
    "dispense__dispensed_on", "dispense__days_supply", "medication_guide_ack__acknowledged_on",
)  # fmt: skip


def course_records(
    courses: Sequence[Course], *, diary_since: dt.date | None = None
) -> dict[int, model.CourseRecord]:
    """course_record() for many courses at once, by course id: one query per kind of row for all
    of them, read as plain values (no model instance, no queryset per course). The courses need
    their patient loaded (select_related("patient")).

    The dose diary is read from `diary_since` on; none of it without (the rules and the timeline
    read none; the dose planner reads course_record()).
    """
    if not courses:
        return {}
    course_ids = [c.pk for c in courses]
    patient_ids = sorted({c.patient_id for c in courses})

    reads = (
        (_POTENTIALS, patient_ids), (_CONSENTS, course_ids), (_PLANS, course_ids),
        (_CHECKS, course_ids), (_TESTS, patient_ids), (_MOODS, patient_ids),
        (_LABS, patient_ids), (_WEIGHTS, patient_ids), (_PRESCRIPTIONS, course_ids),
    )  # fmt: skip
    # Where Django would read them: the replica for an export (operations/routers.py).
    found = read_together(reads, router.db_for_read(Course))  # PostgreSQL: one round trip
    potential_rows, *grouped, prescription_rows = found
    consents, plans, checks, tests, moods, labs, weights = (_grouped(rows) for rows in grouped)
    potentials: dict[int, bool] = {}
    for row in potential_rows:  # newest first: the first of a patient decides
        potentials.setdefault(row.patient_id, row.can_become_pregnant)
    prescriptions: dict[int, list[_RxRow]] = defaultdict(list)
    for row in prescription_rows:
        prescriptions[row[0]].append(_RxRow(*row[1:]))
    diary: dict[int, list[Any]] = {}
    if diary_since is not None:
        diary = defaultdict(list)
        for entry in (
            DoseDiaryEntry.objects.filter(course_id__in=course_ids, day__gte=diary_since)
            .order_by("day", "time")
            .values_list("course_id", "day", "time", "taken", "dose_mg", named=True)
        ):
            diary[entry.course_id].append(entry)
    return {
        c.pk: _record(
            c,
            can_become_pregnant=potentials.get(c.patient_id),
            consents=consents.get(c.pk, ()),
            plans=plans.get(c.pk, ()),
            tests=tests.get(c.patient_id, ()),
            checks=checks.get(c.pk, ()),
            moods=moods.get(c.patient_id, ()),
            labs=labs.get(c.patient_id, ()),
            prescriptions=prescriptions.get(c.pk, ()),
            weights=weights.get(c.patient_id, ()),
            diary=diary.get(c.pk, ()),
        )
        for c in courses
    }


def _grouped(rows: Iterable[Any]) -> dict[int, list[Any]]:
    """Rows by their first value (the course or patient they belong to)."""
    groups: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        groups[row[0]].append(row)
    return groups


def _record(
    course: Course,
    *,
    can_become_pregnant: bool | None,
    consents: Iterable[Any],
    plans: Iterable[Any],
    tests: Iterable[Any],
    checks: Iterable[Any],
    moods: Iterable[Any],
    labs: Iterable[Any],
    prescriptions: Iterable[_RxRow],
    weights: Iterable[Any],
    diary: Iterable[Any],
) -> model.CourseRecord:
    """The record from the course's rows (model instances or named value rows alike)."""
    patient = course.patient
    events: list[model.Event] = []
    if course.enrolled_on:
        events.append(model.Enrolled(date=course.enrolled_on))
    events += [
        model.Consent(kind=ConsentKind(c.kind), date=c.signed_on)
        for c in _by(consents, "signed_on", "id")
    ]
    events += [
        model.Contraception(
            methods=tuple(ContraceptionMethod(m) for m in plan.methods),
            start=plan.start,
            end=plan.end,
        )
        for plan in _by(plans, "start", "id")
    ]
    events += [
        model.PregnancyTest(
            specimen_date=t.specimen_date,
            result=PregnancyTestResult(t.result),
            setting=PregnancyTestSetting(t.setting),
        )
        # Every test of the patient, not only those filed under this course: a positive test
        # recorded anywhere must reach the rules.
        for t in _by(tests, "specimen_date", "id")
    ]
    for check in _by(checks, "done_on", "id"):
        if check.kind == MonthlyCheckKind.COUNSELLING:
            events.append(model.Counselling(date=check.done_on))
        elif check.kind == MonthlyCheckKind.COMPREHENSION:
            events.append(model.Comprehension(date=check.done_on, passed=bool(check.passed)))
    events += [
        model.MoodAssessment(tool=MoodTool(m.tool), score=m.score, date=m.assessed_on)
        for m in _by(moods, "assessed_on", "id")
    ]
    events += [
        model.LabResult(
            test=LabTest(lab.test), value=float(lab.value), unit=lab.unit, date=lab.taken_on
        )
        for lab in _by(labs, "taken_on", "id")
    ]
    for rx in _by(prescriptions, "written_on", "id"):
        if rx.cancelled_at is None:
            events.append(
                model.Prescription(
                    date=rx.written_on, days_supply=rx.days_supply, refills=rx.refills
                )
            )
            if rx.acknowledged_on is not None:
                events.append(model.MedicationGuideAck(date=rx.acknowledged_on))
        if rx.dispensed_on is not None:
            # A fill happened, whatever became of its prescription afterwards.
            events.append(model.Dispense(date=rx.dispensed_on, days_supply=rx.dispensed_days))
    if course.last_dose_on:
        events.append(model.LastDose(date=course.last_dose_on))
    return model.CourseRecord(
        jurisdiction=Jurisdiction(patient.jurisdiction),
        patient=model.PatientFacts(
            birth_date=patient.birth_date, can_become_pregnant=can_become_pregnant
        ),
        course=model.CourseFacts(
            product=Product(course.product),
            first_dose=course.first_dose_on,
            last_dose=course.last_dose_on,
            number=course.number,
        ),
        events=tuple(events),
        pack=course.rule_pack,
        weights=tuple(
            model.Weight(measured_on=w.measured_on, kg=float(w.weight_kg))
            for w in _by(weights, "measured_on", "id")
        ),
        diary=tuple(
            model.DoseRecord(day=d.day, time=DoseTime(d.time), taken=d.taken, mg=d.dose_mg)
            for d in diary
        ),
    )
