"""Rows become the core's CourseRecord in one place, with every event the engine will need."""

from __future__ import annotations

import dataclasses
import datetime as dt

from isoguard.core import model
from isoguard.core.vocabulary import (
    ConsentKind,
    ContraceptionMethod,
    DoseTime,
    Jurisdiction,
    Product,
)
from isoguard.courses.convert import RECORD_PREFETCH, course_record, course_records
from isoguard.courses.models import (
    Consent,
    ContraceptionPlan,
    Course,
    Dispense,
    DoseDiaryEntry,
    LabResult,
    MedicationGuideAck,
    MonthlyCheck,
    MoodAssessment,
    PregnancyTest,
    Prescription,
)
from isoguard.patients.models import PregnancyPotential

D = dt.date


def test_a_course_with_one_of_every_record_converts_to_the_matching_events(world):
    course = Course.objects.get(patient=world.alice)
    course.enrolled_on, course.first_dose_on = D(2026, 9, 20), D(2026, 10, 30)
    course.save()
    by = world.prescriber
    PregnancyPotential.objects.create(
        patient=world.alice,
        can_become_pregnant=False,
        reason="old",
        assessed_on=D(2026, 1, 1),
        assessed_by=by,
    )
    PregnancyPotential.objects.create(
        patient=world.alice,
        can_become_pregnant=True,
        reason="Has periods",
        assessed_on=D(2026, 9, 1),
        assessed_by=by,
    )
    Consent.objects.create(
        course=course,
        kind="informed_consent",
        signed_on=D(2026, 9, 20),
        document_version="v1",
        recorded_by=by,
    )
    ContraceptionPlan.objects.create(
        course=course, methods=["iud", "male_condom"], start=D(2026, 9, 20), recorded_by=by
    )
    PregnancyTest.objects.create(
        patient=world.alice,
        course=course,
        specimen_date=D(2026, 10, 28),
        result="negative",
        setting="lab",
        recorded_by=by,
    )
    MonthlyCheck.objects.create(
        course=course, kind="counselling", done_on=D(2026, 10, 28), recorded_by=by
    )
    MonthlyCheck.objects.create(
        course=course, kind="comprehension", done_on=D(2026, 10, 28), passed=True, recorded_by=by
    )
    LabResult.objects.create(
        patient=world.alice,
        course=course,
        test="alt",
        loinc_code="1742-6",
        value=28,
        unit="U/L",
        taken_on=D(2026, 9, 20),
        recorded_by=by,
    )
    rx = Prescription.objects.get(course=course)
    Prescription.objects.filter(pk=rx.pk).update(written_on=D(2026, 10, 28))
    MedicationGuideAck.objects.create(
        prescription=rx, acknowledged_on=D(2026, 10, 30), acknowledged_by=world.alice_user
    )
    Dispense.objects.create(
        prescription=rx,
        dispensed_on=D(2026, 10, 30),
        days_supply=30,
        quantity=60,
        pharmacist=world.pharmacist,
        pharmacy=world.pharmacy,
    )

    DoseDiaryEntry.objects.create(
        course=course,
        day=D(2026, 10, 30),
        time="evening",
        taken=False,
        dose_mg=30,
        recorded_by=world.alice_user,
    )
    DoseDiaryEntry.objects.create(
        course=course,
        day=D(2026, 10, 30),
        time="morning",
        taken=True,
        dose_mg=30,
        recorded_by=world.alice_user,
    )

    MoodAssessment.objects.create(
        patient=world.alice,
        course=course,
        tool="phq9",
        score=3,
        item9=0,
        assessed_on=D(2026, 10, 28),
        recorded_by=by,
    )
    Course.objects.filter(pk=course.pk).update(last_dose_on=D(2027, 2, 20))

    record = course_record(Course.objects.get(pk=course.pk))
    # The batch reader gives the same record, the whole diary included when asked for.
    batch = course_records([Course.objects.select_related("patient").get(pk=course.pk)],
                           diary_since=D.min)  # fmt: skip
    assert batch == {course.pk: record}

    assert record.jurisdiction == Jurisdiction.US
    assert record.pack == "us-ipledge-2026"
    assert record.patient.can_become_pregnant is True  # the newest assessment applies
    assert record.course == model.CourseFacts(
        product=Product.CLARAVIS, first_dose=D(2026, 10, 30), last_dose=D(2027, 2, 20)
    )
    assert record.events == (
        model.Enrolled(D(2026, 9, 20)),
        model.Consent(ConsentKind.INFORMED_CONSENT, D(2026, 9, 20)),
        model.Contraception(
            (ContraceptionMethod.IUD, ContraceptionMethod.MALE_CONDOM), start=D(2026, 9, 20)
        ),
        model.LabResult(test="alt", value=28.0, unit="U/L", date=D(2026, 9, 20)),
        model.PregnancyTest(D(2026, 10, 28), "negative", "lab"),
        model.Counselling(D(2026, 10, 28)),
        model.Comprehension(D(2026, 10, 28), passed=True),
        model.MoodAssessment(tool="phq9", score=3, date=D(2026, 10, 28)),
        model.Prescription(D(2026, 10, 28), days_supply=30, refills=0),
        model.MedicationGuideAck(D(2026, 10, 30)),
        model.Dispense(D(2026, 10, 30), days_supply=30),
        model.LastDose(D(2027, 2, 20)),
    )
    assert record.weights == (model.Weight(measured_on=D(2026, 11, 25), kg=61.5),)
    assert record.diary == (
        model.DoseRecord(D(2026, 10, 30), DoseTime.MORNING, taken=True, mg=30),
        model.DoseRecord(D(2026, 10, 30), DoseTime.EVENING, taken=False, mg=30),
    )


def test_a_cancelled_prescription_is_not_an_event(world):
    from django.utils import timezone

    Prescription.objects.filter(course__patient=world.alice).update(cancelled_at=timezone.now())
    record = course_record(Course.objects.get(patient=world.alice))
    assert not record.events_of(model.Prescription)


def test_a_patient_not_yet_assessed_has_unknown_pregnancy_potential(world):
    record = course_record(Course.objects.get(patient=world.alice))
    assert record.patient.can_become_pregnant is None


def test_the_batch_reader_gives_every_demo_course_the_record_course_record_gives(db):
    from isoguard.demo import create_demo

    create_demo(D(2026, 11, 25))
    courses = list(Course.objects.select_related("patient").order_by("pk"))
    assert len(courses) >= 6
    # Without a diary, as the timelines read them.
    one_by_one = {
        c.pk: dataclasses.replace(course_record(c), diary=())
        for c in Course.objects.select_related("patient").prefetch_related(*RECORD_PREFETCH)
    }
    assert course_records(courses) == one_by_one
    assert any(r.events for r in one_by_one.values())
    # With the diary from a day on.
    since = D(2026, 11, 20)
    batch = course_records(courses, diary_since=since)
    for course in courses:
        whole = course_record(course)
        recent = tuple(d for d in whole.diary if d.day >= since)
        assert batch[course.pk] == dataclasses.replace(whole, diary=recent)
    assert any(r.diary for r in batch.values())
    assert course_records([]) == {}
