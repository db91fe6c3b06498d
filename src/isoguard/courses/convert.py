"""The one boundary between database rows and the core's types (`isoguard.core.model`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

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
from isoguard.courses.models import Course

T = TypeVar("T")


# What course_record reads, for prefetch_related: a list of many courses then costs a fixed number
# of queries, whatever its length (the clinic's worklist).
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


def timeline_prefetch(prefix: str = "", diary: Any = None) -> list[Any]:
    """RECORD_PREFETCH for reading timelines (`prefix` = "course__" from prescriptions): the rules
    and obligations read no dose diary, so it loads `diary` (a queryset) or none of it, not every
    dose ever ticked."""
    from django.db.models import Prefetch

    from isoguard.courses.models import DoseDiaryEntry

    rows = DoseDiaryEntry.objects.none() if diary is None else diary
    return [
        *(prefix + lookup for lookup in RECORD_PREFETCH if lookup != "diary"),
        Prefetch(prefix + "diary", queryset=rows),
    ]


def _by(rows: Iterable[T], *keys: str) -> list[T]:
    """Rows sorted in Python, so that prefetched rows are used as they are."""
    return sorted(rows, key=lambda row: tuple(getattr(row, k) for k in keys))


def course_record(course: Course) -> model.CourseRecord:
    """Return the course with every event recorded for it, as the rule engine reads it.

    It reads related rows with .all() only, so a course fetched with RECORD_PREFETCH costs no
    further query.
    """
    patient = course.patient
    potential = next(iter(patient.pregnancy_potential_assessments.all()), None)
    events: list[model.Event] = []
    if course.enrolled_on:
        events.append(model.Enrolled(date=course.enrolled_on))
    events += [
        model.Consent(kind=ConsentKind(c.kind), date=c.signed_on)
        for c in _by(course.consents.all(), "signed_on", "id")
    ]
    events += [
        model.Contraception(
            methods=tuple(ContraceptionMethod(m) for m in plan.methods),
            start=plan.start,
            end=plan.end,
        )
        for plan in _by(course.contraception.all(), "start", "id")
    ]
    events += [
        model.PregnancyTest(
            specimen_date=t.specimen_date,
            result=PregnancyTestResult(t.result),
            setting=PregnancyTestSetting(t.setting),
        )
        # Every test of the patient, not only those filed under this course: a positive test
        # recorded anywhere must reach the rules.
        for t in _by(patient.pregnancy_tests.all(), "specimen_date", "id")
    ]
    for check in _by(course.monthly_checks.all(), "done_on", "id"):
        if check.kind == MonthlyCheckKind.COUNSELLING:
            events.append(model.Counselling(date=check.done_on))
        elif check.kind == MonthlyCheckKind.COMPREHENSION:
            events.append(model.Comprehension(date=check.done_on, passed=bool(check.passed)))
    events += [
        model.MoodAssessment(tool=MoodTool(m.tool), score=m.score, date=m.assessed_on)
        for m in _by(patient.mood_assessments.all(), "assessed_on", "id")
    ]
    events += [
        model.LabResult(
            test=LabTest(lab.test), value=float(lab.value), unit=lab.unit, date=lab.taken_on
        )
        for lab in _by(patient.labs.all(), "taken_on", "id")
    ]
    for rx in _by(course.prescriptions.all(), "written_on", "id"):
        # A missing reverse one-to-one raises an AttributeError subclass, hence getattr's default.
        dispense = getattr(rx, "dispense", None)
        if rx.cancelled_at is None:
            events.append(
                model.Prescription(
                    date=rx.written_on, days_supply=rx.days_supply, refills=rx.refills
                )
            )
            ack = getattr(rx, "medication_guide_ack", None)
            if ack is not None:
                events.append(model.MedicationGuideAck(date=ack.acknowledged_on))
        if dispense is not None:
            # A fill happened, whatever became of its prescription afterwards.
            events.append(
                model.Dispense(date=dispense.dispensed_on, days_supply=dispense.days_supply)
            )
    if course.last_dose_on:
        events.append(model.LastDose(date=course.last_dose_on))
    return model.CourseRecord(
        jurisdiction=Jurisdiction(patient.jurisdiction),
        patient=model.PatientFacts(
            birth_date=patient.birth_date,
            can_become_pregnant=potential.can_become_pregnant if potential else None,
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
            for w in _by(patient.weights.all(), "measured_on", "id")
        ),
        diary=tuple(
            model.DoseRecord(day=d.day, time=DoseTime(d.time), taken=d.taken, mg=d.dose_mg)
            for d in course.diary.all()
        ),
    )
