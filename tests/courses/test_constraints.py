"""The database itself refuses records that could never be right, whatever code writes them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from isoguard.courses.models import Course, Dispense, Prescription
from tests.conftest import TODAY, make_course, make_prescription


def dispense(prescription, pharmacist, **fields):
    defaults = {"dispensed_on": TODAY, "days_supply": 30, "quantity": 60}
    return Dispense.objects.create(
        prescription=prescription,
        pharmacist=pharmacist,
        pharmacy=pharmacist.organisation,
        **{**defaults, **fields},
    )


def test_a_prescription_is_dispensed_at_most_once(world):
    rx = Prescription.objects.get(course__patient=world.alice)
    dispense(rx, world.pharmacist)

    with pytest.raises(IntegrityError), transaction.atomic():
        dispense(rx, world.pharmacist)
    assert Dispense.objects.filter(prescription=rx).count() == 1


@pytest.mark.parametrize("days", [0, 31, 90])
def test_a_prescription_for_more_than_30_days_or_none_cannot_be_stored(world, days):
    course = Course.objects.get(patient=world.alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_prescription(course, world.prescriber, days_supply=days)


def test_a_dispense_for_more_than_30_days_cannot_be_stored(world):
    rx = Prescription.objects.get(course__patient=world.alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        dispense(rx, world.pharmacist, days_supply=31)


def test_a_patient_has_at_most_one_open_course(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_course(world.alice, world.prescriber, number=2, status="screening")


def test_a_new_course_may_open_once_the_last_one_is_completed(world):
    Course.objects.filter(patient=world.alice).update(status="completed")
    second = make_course(world.alice, world.prescriber, number=2, status="screening")
    assert second.number == 2


def test_course_numbers_are_unique_per_patient(world):
    Course.objects.filter(patient=world.alice).update(status="completed")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_course(world.alice, world.prescriber, number=1, status="screening")


def test_the_last_dose_cannot_come_before_the_first(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        Course.objects.filter(patient=world.alice).update(
            first_dose_on=dt.date(2026, 10, 1), last_dose_on=dt.date(2026, 9, 1)
        )


def test_a_weight_outside_20_to_250_kg_cannot_be_stored(world):
    from isoguard.patients.models import WeightMeasurement

    with pytest.raises(IntegrityError), transaction.atomic():
        WeightMeasurement.objects.create(
            patient=world.bob, measured_on=TODAY, weight_kg=7, recorded_by=world.prescriber
        )
