"""Screening in the clinic: stored and audited, and a course starts only from a good screening."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from isoguard.audit.models import AuditEvent
from isoguard.core.screening_input import ScreeningInputError
from isoguard.courses.models import Course
from isoguard.patients.models import Allergy, CurrentMedicine
from isoguard.screenings.models import Screening
from isoguard.screenings.services import course_start_from_screening, screening_run
from tests.conftest import make_course

CLEAN = {
    "diagnosis": "severe_recalcitrant_nodular_acne",
    "failed_treatments": ["oral_doxycycline"],
    "can_become_pregnant": False,
}


def run(world, patient=None, user=None, **fields):
    return screening_run(
        user=user or world.prescriber,
        patient_id=(patient or world.bob).pk,
        fields={**CLEAN, **fields},
    )


def test_a_screening_is_stored_with_its_request_and_result_and_audited(world):
    screening = run(world, allergies=["parabens"], medicines=["minocycline 100 mg"])

    assert screening.outcome == "eligible_with_cautions"
    assert screening.request["birth_date"] == world.bob.birth_date.isoformat()
    assert {f["id"] for f in screening.result["findings"]} == {
        "allergen:parabens",
        "interaction:tetracyclines",
        "us_enrolment",
    }
    assert "zenatane" not in screening.safe_product_slugs
    event = AuditEvent.objects.get(action="create", object_type="screenings.screening")
    assert event.patient_id == world.bob.pk and event.detail == {
        "outcome": "eligible_with_cautions"
    }


def test_allergies_and_medicines_first_mentioned_at_screening_join_the_record(world):
    Allergy.objects.create(
        patient=world.bob,
        substance="Parabens",
        recorded_on=timezone.localdate(),
        recorded_by=world.prescriber,
    )
    run(world, allergies=["parabens", "soy"], medicines=["minocycline 100 mg"])

    assert sorted(a.substance for a in Allergy.objects.filter(patient=world.bob)) == [
        "Parabens",
        "soy",
    ]
    assert CurrentMedicine.objects.get(patient=world.bob).name == "minocycline 100 mg"


def test_bad_input_stores_nothing_and_names_the_field(world):
    with pytest.raises(ScreeningInputError) as caught:
        run(world, allergies=["soy"], diagnosis="rosacea")
    assert caught.value.field == "diagnosis"
    assert not Screening.objects.exists() and not Allergy.objects.exists()


@pytest.mark.parametrize("who", ["staff", "other_prescriber", "pharmacist", "alice_user"])
def test_only_the_patients_prescribers_may_screen(world, who):
    with pytest.raises(PermissionDenied):
        run(world, user=getattr(world, who))
    assert not Screening.objects.exists()
    refusal = AuditEvent.objects.get(actor=getattr(world, who), action="screen")
    assert refusal.outcome == "refused" and refusal.patient_id == world.bob.pk


def start(world, screening, product="claravis", acknowledge=True):
    return course_start_from_screening(
        user=world.prescriber,
        screening_id=screening.pk,
        product=product,
        acknowledge_cautions=acknowledge,
    )


def test_an_eligible_screening_starts_a_course_with_the_pack_in_force(world):
    course = start(world, run(world))
    assert (course.number, course.status, course.product) == (1, "screening", "claravis")
    assert course.rule_pack == "us-ipledge-2026"
    assert course.indication_icd10 == "L70.0"
    assert Screening.objects.get().course == course
    assert AuditEvent.objects.filter(action="start_course", patient_id=world.bob.pk).exists()


def test_the_2026_edition_start_is_a_setting(world, settings):
    settings.ISOGUARD_US_IPLEDGE_2026_START = timezone.localdate() + dt.timedelta(days=1)
    assert start(world, run(world)).rule_pack == "us-ipledge-2023"


def test_cautions_must_be_acknowledged_before_a_course_starts(world):
    screening = run(world, history=["depression"])
    with pytest.raises(ValidationError, match="Acknowledge the cautions"):
        start(world, screening, acknowledge=False)
    start(world, screening, acknowledge=True)
    screening.refresh_from_db()
    assert screening.cautions_acknowledged_by == world.prescriber


def test_a_product_the_screening_excluded_cannot_be_chosen(world):
    screening = run(world, allergies=["parabens"])
    with pytest.raises(ValidationError, match="Choose one of the safe products"):
        start(world, screening, product="zenatane")
    assert not Course.objects.filter(patient=world.bob).exists()


def test_a_not_eligible_screening_starts_nothing_and_says_what_to_do(world):
    screening = run(world, pregnant=True, can_become_pregnant=True)
    with pytest.raises(ValidationError, match="resolve the contraindications and screen again"):
        start(world, screening)


def test_only_the_newest_screening_can_start_a_course(world):
    older = run(world)
    run(world)
    with pytest.raises(ValidationError, match="A newer screening exists"):
        start(world, older)


def test_a_course_cannot_start_while_another_is_active(world):
    screening = run(world, patient=world.alice)
    with pytest.raises(ValidationError, match="Course 1 is active"):
        start(world, screening)


def test_a_planned_course_in_screening_is_completed_not_duplicated(world):
    planned = make_course(world.bob, world.prescriber, status="screening", product="isotretinoin")
    course = start(world, run(world), product="absorica")
    assert course.pk == planned.pk and course.product == "absorica"


def test_a_second_course_waits_eight_weeks_after_the_last_dose(world):
    today = timezone.localdate()
    Course.objects.filter(patient=world.alice).update(
        status="completed",
        first_dose_on=today - dt.timedelta(days=200),
        last_dose_on=today - dt.timedelta(days=50),
    )
    screening = screening_run(user=world.prescriber, patient_id=world.alice.pk, fields=CLEAN)
    assert screening.outcome == "eligible"  # the form did not say when the last course ended
    with pytest.raises(ValidationError, match=r"may start on .* at the earliest"):
        start(world, screening)


def test_a_second_course_gets_the_next_number(world):
    today = timezone.localdate()
    Course.objects.filter(patient=world.alice).update(
        status="completed",
        first_dose_on=today - dt.timedelta(days=300),
        last_dose_on=today - dt.timedelta(days=100),
    )
    screening = screening_run(user=world.prescriber, patient_id=world.alice.pk, fields=CLEAN)
    assert start(world, screening).number == 2
