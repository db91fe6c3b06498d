"""Records cannot hide from the rules, and the database refuses rows that cannot be right."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from isoguard.core import model
from isoguard.courses.convert import course_record
from isoguard.courses.models import (
    Course,
    Dispense,
    MonthlyCheck,
    MoodAssessment,
    PregnancyTest,
    Prescription,
)
from isoguard.patients.access import patients_visible_to
from isoguard.patients.models import Allergy, Guardianship
from tests.conftest import TODAY, make_course, make_patient

D = dt.date


def test_a_positive_test_filed_under_no_course_still_reaches_the_rules(world):
    PregnancyTest.objects.create(
        patient=world.alice,
        course=None,
        specimen_date=TODAY,
        result="positive",
        setting="home",
        recorded_by=world.prescriber,
    )
    record = course_record(Course.objects.get(patient=world.alice))
    assert [t.result for t in record.events_of(model.PregnancyTest)] == ["positive"]


def test_mood_assessments_filed_under_no_course_reach_the_record_too(world):
    MoodAssessment.objects.create(
        patient=world.alice,
        tool="phq9",
        score=14,
        item9=0,
        assessed_on=TODAY,
        recorded_by=world.prescriber,
    )
    record = course_record(Course.objects.get(patient=world.alice))
    assert record.events_of(model.MoodAssessment) == (model.MoodAssessment("phq9", 14, TODAY),)


def test_a_dispense_stays_on_the_record_after_its_prescription_is_cancelled(world):
    rx = Prescription.objects.get(course__patient=world.alice)
    Dispense.objects.create(
        prescription=rx,
        dispensed_on=TODAY,
        days_supply=30,
        quantity=60,
        pharmacist=world.pharmacist,
        pharmacy=world.pharmacy,
    )
    Prescription.objects.filter(pk=rx.pk).update(cancelled_at=timezone.now())

    record = course_record(Course.objects.get(patient=world.alice))

    assert record.events_of(model.Dispense) == (model.Dispense(TODAY, 30),)
    assert not record.events_of(model.Prescription)


def test_a_pharmacist_loses_sight_of_a_patient_whose_prescription_was_cancelled(world):
    Prescription.objects.filter(course__patient=world.alice).update(cancelled_at=timezone.now())
    assert not patients_visible_to(world.pharmacist).filter(pk=world.alice.pk).exists()


def test_a_pharmacist_keeps_sight_of_what_their_pharmacy_dispensed(world):
    rx = Prescription.objects.get(course__patient=world.alice)
    Dispense.objects.create(
        prescription=rx,
        dispensed_on=TODAY,
        days_supply=30,
        quantity=60,
        pharmacist=world.pharmacist,
        pharmacy=world.pharmacy,
    )
    Prescription.objects.filter(pk=rx.pk).update(cancelled_at=timezone.now())
    assert patients_visible_to(world.pharmacist).filter(pk=world.alice.pk).exists()


def test_a_patient_with_clinical_records_cannot_be_deleted(world):
    Allergy.objects.create(
        patient=world.bob, substance="soy", recorded_on=TODAY, recorded_by=world.prescriber
    )
    with pytest.raises(ProtectedError):
        world.bob.delete()
    assert Allergy.objects.filter(patient=world.bob).exists()


def turning_18_today(clinic):
    today = timezone.localdate()
    try:
        birth = today.replace(year=today.year - 18)
    except ValueError:
        birth = D(today.year - 18, 2, 28)
    return make_patient(clinic, "Adult", birth_date=birth)


def test_a_parents_access_ends_on_the_patients_18th_birthday(world):
    patient = turning_18_today(world.clinic)
    Guardianship.objects.create(guardian=world.guardian, patient=patient, since=D(2010, 1, 1))
    assert not patients_visible_to(world.guardian).filter(pk=patient.pk).exists()
    assert patients_visible_to(world.guardian).filter(pk=world.chloe.pk).exists()


def test_a_guardianship_recorded_as_continuing_into_adulthood_keeps_access(world):
    patient = turning_18_today(world.clinic)
    Guardianship.objects.create(
        guardian=world.guardian, patient=patient, since=D(2010, 1, 1), continues_into_adulthood=True
    )
    assert patients_visible_to(world.guardian).filter(pk=patient.pk).exists()


def rejected(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_the_database_refuses_rows_that_cannot_be_right(world):
    from isoguard.accounts.models import User

    course = Course.objects.get(patient=world.alice)
    rx = Prescription.objects.get(course=course)
    by = world.prescriber
    rejected(lambda: Prescription.objects.filter(pk=rx.pk).update(refills=5))
    rejected(lambda: Prescription.objects.filter(pk=rx.pk).update(quantity=0))
    rejected(lambda: Course.objects.filter(pk=course.pk).update(status="paused"))
    rejected(lambda: Course.objects.filter(pk=course.pk).update(product="tretinoin"))
    rejected(lambda: Course.objects.filter(pk=course.pk).update(rule_pack="us-ipledge-2099"))
    rejected(lambda: Course.objects.filter(pk=course.pk).update(last_dose_on=TODAY))
    rejected(lambda: Course.objects.filter(pk=course.pk).update(target_mg_per_kg=400))
    rejected(
        lambda: MonthlyCheck.objects.create(
            course=course, kind="comprehension", done_on=TODAY, passed=None, recorded_by=by
        )
    )
    rejected(
        lambda: MonthlyCheck.objects.create(
            course=course, kind="counselling", done_on=TODAY, passed=True, recorded_by=by
        )
    )
    rejected(
        lambda: PregnancyTest.objects.create(
            patient=world.alice, specimen_date=TODAY, result="maybe", setting="lab", recorded_by=by
        )
    )
    rejected(
        lambda: Guardianship.objects.create(
            guardian=world.guardian, patient=world.bob, since=D(2026, 1, 2), until=D(2026, 1, 1)
        )
    )
    rejected(lambda: User.objects.create(username="lonely", role="pharmacist"))
    rejected(lambda: make_course(world.bob, by, status="screening", number=0))


def test_createsuperuser_makes_an_administrator(db, monkeypatch):
    from django.core.management import call_command

    from isoguard.accounts.models import User

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-password")
    call_command("createsuperuser", "--noinput", "--username", "root", "--email", "r@example.org")
    assert User.objects.get(username="root").role == "administrator"
