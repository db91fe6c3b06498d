"""The dose in the clinic: the prescriber sets it, history kept; the patient keeps the diary."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from isoguard.audit.models import AuditEvent
from isoguard.core.dosing import DosingError
from isoguard.courses.dosing_selectors import course_progress, dose_plan_in_force
from isoguard.courses.dosing_services import diary_record, dose_plan_set
from isoguard.courses.models import Course, DoseDiaryEntry, DosePlan
from isoguard.patients.models import WeightMeasurement


@pytest.fixture
def course(world):
    """Alice's Claravis course, started ten days ago."""
    today = timezone.localdate()
    Course.objects.filter(patient=world.alice).update(first_dose_on=today - dt.timedelta(days=10))
    return Course.objects.get(patient=world.alice)


def set_dose(world, course, mg_per_kg="1.0", days_ago=10, **extra):
    return dose_plan_set(
        user=world.prescriber, course_id=course.pk, mg_per_kg_day=Decimal(mg_per_kg),
        target_mg_per_kg=120, effective_from=timezone.localdate() - dt.timedelta(days=days_ago),
        **extra,
    )  # fmt: skip


def test_the_prescriber_sets_a_dose_as_real_capsules_and_it_is_audited(world, course):
    plan = set_dose(world, course)  # 61.5 kg at 1 mg/kg: 60 mg, one 30 mg capsule twice
    assert (plan.daily_mg, plan.morning_mg, plan.evening_mg) == (60, 30, 30)
    assert plan.plan["with_food"] is True
    assert AuditEvent.objects.filter(action="create", object_type="courses.doseplan").exists()


def test_a_changed_dose_keeps_the_history_and_applies_from_its_day(world, course):
    first = set_dose(world, course, "0.5", days_ago=10)
    second = set_dose(world, course, "1.0", days_ago=3, reason="tolerating well")
    today = timezone.localdate()
    assert dose_plan_in_force(course, today - dt.timedelta(days=5)) == first
    assert dose_plan_in_force(course, today) == second
    assert DosePlan.objects.filter(course=course).count() == 2


def test_a_new_weight_is_recorded_on_the_patient(world, course):
    set_dose(world, course, weight_kg=Decimal("64.0"))
    assert WeightMeasurement.objects.filter(patient=world.alice).first().weight_kg == Decimal(
        "64.0"
    )


@pytest.mark.parametrize(
    ("extra", "mg_per_kg", "field"),
    [({}, "2.5", "mg_per_kg_day"), ({"weight_kg": Decimal("300")}, "1.0", "weight_kg")],
)
def test_a_dose_the_planner_refuses_stores_nothing_and_names_the_field(
    world, course, extra, mg_per_kg, field
):
    with pytest.raises(DosingError) as caught:
        set_dose(world, course, mg_per_kg, **extra)
    assert caught.value.field == field
    assert not DosePlan.objects.exists()


@pytest.mark.parametrize("who", ["staff", "other_prescriber", "alice_user", "pharmacist"])
def test_only_the_patients_prescriber_sets_the_dose(world, course, who):
    with pytest.raises(PermissionDenied):
        dose_plan_set(
            user=getattr(world, who),
            course_id=course.pk,
            mg_per_kg_day=Decimal("1"),
            target_mg_per_kg=120,
            effective_from=timezone.localdate(),
        )
    assert AuditEvent.objects.filter(actor=getattr(world, who), outcome="refused").exists()


def tick(world, course, days_ago, time="morning", taken=True, user=None):
    return diary_record(
        user=user or world.alice_user,
        course_id=course.pk,
        day=timezone.localdate() - dt.timedelta(days=days_ago),
        time=time,
        taken=taken,
    )


def test_the_patient_ticks_doses_and_the_dose_is_the_one_planned_for_that_time(world, course):
    set_dose(world, course)
    entry = tick(world, course, 2, "evening")
    assert (entry.taken, entry.dose_mg) == (True, 30)


def test_a_missed_dose_is_recorded_once_and_never_doubled(world, course):
    set_dose(world, course)
    tick(world, course, 1, "morning", taken=False)
    corrected = tick(world, course, 1, "morning", taken=True)
    assert DoseDiaryEntry.objects.filter(course=course).count() == 1
    assert corrected.dose_mg == 30  # the planned dose, not a make-up double


@pytest.mark.parametrize("days_ago", [-1, 11])
def test_a_dose_before_the_first_or_in_the_future_is_refused_naming_the_day(
    world, course, days_ago
):
    set_dose(world, course)
    with pytest.raises(ValidationError) as caught:
        tick(world, course, days_ago)
    assert "day" in caught.value.message_dict


@pytest.mark.parametrize("who", ["prescriber", "bob_user", "pharmacist"])
def test_only_the_patient_or_guardian_keeps_the_diary(world, course, who):
    set_dose(world, course)
    with pytest.raises(PermissionDenied):
        tick(world, course, 1, user=getattr(world, who))


def test_progress_comes_from_the_doses_actually_taken_and_the_weight_that_day(world, course):
    set_dose(world, course)
    for days_ago in range(10, 0, -1):
        tick(world, course, days_ago, "morning")
        tick(world, course, days_ago, "evening", taken=days_ago != 4)
    progress = course_progress(course, timezone.localdate() - dt.timedelta(days=1))
    assert progress.doses_taken == 19 and progress.doses_missed == 1
    assert progress.taken_mg_per_kg == pytest.approx(19 * 30 / 61.5)

    # Had the missed dose been taken, 30 mg more would be behind her, and the end no later.
    tick(world, course, 4, "evening", taken=True)
    all_taken = course_progress(course, timezone.localdate() - dt.timedelta(days=1))
    assert progress.remaining_mg_per_kg - all_taken.remaining_mg_per_kg == pytest.approx(30 / 61.5)
    assert all_taken.projected_end <= progress.projected_end
