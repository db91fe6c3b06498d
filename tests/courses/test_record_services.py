"""The clinic records each programme step; a prescription is written only when the engine allows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from isoguard.audit.models import AuditEvent
from isoguard.courses import record_services as rs
from isoguard.courses.dosing_services import dose_plan_set
from isoguard.courses.models import Course, Prescription, ProgrammeDecision


def ago(days: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=days)


@pytest.fixture
def bob_course(world):
    """Bob (can become pregnant) on a planned Claravis course, with a dose set."""
    course = Course.objects.create(
        patient=world.bob,
        number=1,
        product="claravis",
        rule_pack="us-ipledge-2026",
        prescriber=world.prescriber,
    )
    from isoguard.patients.models import WeightMeasurement

    WeightMeasurement.objects.create(
        patient=world.bob, measured_on=ago(60), weight_kg=60, recorded_by=world.prescriber
    )
    dose_plan_set(
        user=world.prescriber,
        course_id=course.pk,
        mg_per_kg_day=Decimal("1.0"),
        target_mg_per_kg=120,
        effective_from=timezone.localdate(),
    )
    return course


def everything_but_the_confirmation_test(world, course):
    kw = {"user": world.prescriber, "course_id": course.pk}
    rs.pregnancy_potential_record(**kw, can_become_pregnant=True, reason="Has periods")
    rs.enrolment_record(**kw, enrolled_on=ago(60))
    rs.consent_record(**kw, kind="informed_consent", signed_on=ago(60), document_version="2026-02")
    rs.consent_record(
        **kw, kind="pregnancy_prevention", signed_on=ago(60), document_version="2026-02"
    )
    rs.contraception_record(**kw, methods=["iud", "male_condom"], start=ago(100))
    rs.pregnancy_test_record(**kw, specimen_date=ago(60), result="negative", setting="clinic")
    rs.counselling_record(**kw, done_on=timezone.localdate())


def test_a_refused_prescription_writes_nothing_and_says_what_is_missing(world, bob_course):
    everything_but_the_confirmation_test(world, bob_course)
    decision, rx = rs.prescription_write(
        user=world.prescriber, course_id=bob_course.pk, days_supply=30
    )
    assert rx is None and not decision.allowed
    assert [f["rule"] for f in decision.unmet] == ["pregnancy_test.window"]
    assert not Prescription.objects.filter(course=bob_course).exists()
    assert AuditEvent.objects.filter(action="prescribe", outcome="refused").exists()


def test_recording_the_missing_test_lets_the_prescription_be_written(world, bob_course):
    everything_but_the_confirmation_test(world, bob_course)
    rs.pregnancy_test_record(
        user=world.prescriber,
        course_id=bob_course.pk,
        specimen_date=timezone.localdate(),
        result="negative",
        setting="lab",
        loinc_code="2106-3",
    )
    decision, rx = rs.prescription_write(
        user=world.prescriber,
        course_id=bob_course.pk,
        days_supply=30,
        pharmacy_id=world.pharmacy.pk,
    )
    assert decision.allowed and rx is not None
    assert (rx.daily_dose_mg, rx.quantity, rx.refills) == (60, 60, 0)  # 30 mg twice a day
    assert decision.dispense_by == timezone.localdate() + dt.timedelta(days=6)
    assert ProgrammeDecision.objects.get(prescription=rx).allowed


def test_the_first_dose_is_recorded_only_when_the_engine_allows_it(world, bob_course):
    everything_but_the_confirmation_test(world, bob_course)
    decision, course = rs.course_start(user=world.prescriber, course_id=bob_course.pk)
    assert not decision.allowed and course.first_dose_on is None
    rs.pregnancy_test_record(
        user=world.prescriber,
        course_id=bob_course.pk,
        specimen_date=timezone.localdate(),
        result="negative",
        setting="lab",
    )
    from isoguard.courses.models import MonthlyCheck

    MonthlyCheck.objects.create(
        course=bob_course,
        kind="comprehension",
        done_on=timezone.localdate(),
        passed=True,
        recorded_by=world.bob_user,
    )
    decision, course = rs.course_start(user=world.prescriber, course_id=bob_course.pk)
    assert decision.allowed, decision.unmet
    assert (course.first_dose_on, course.status) == (timezone.localdate(), "active")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda kw: rs.contraception_record(**kw, methods=["abstinence", "iud"], start=ago(1)),
            "methods",
        ),
        (lambda kw: rs.contraception_record(**kw, methods=[], start=ago(1)), "methods"),
        (
            lambda kw: rs.contraception_record(**kw, methods=["iud"], start=ago(1), end=ago(5)),
            "end",
        ),
        (
            lambda kw: rs.pregnancy_test_record(
                **kw, specimen_date=ago(-1), result="negative", setting="lab"
            ),
            "specimen_date",
        ),
        (
            lambda kw: rs.pregnancy_test_record(
                **kw, specimen_date=ago(1), result="negative", setting="lab", loinc_code="1234-5"
            ),
            "loinc_code",
        ),
        (
            lambda kw: rs.consent_record(
                **kw, kind="informed_consent", signed_on=ago(1), document_version=" "
            ),
            "document_version",
        ),
        (
            lambda kw: rs.pregnancy_potential_record(**kw, can_become_pregnant=True, reason=""),
            "reason",
        ),
    ],
)
def test_a_step_that_cannot_be_right_is_refused_naming_the_field(world, bob_course, call, field):
    with pytest.raises(ValidationError) as caught:
        call({"user": world.prescriber, "course_id": bob_course.pk})
    assert field in caught.value.message_dict


def test_a_minor_needs_the_guardians_signature(world):
    course = Course.objects.create(
        patient=world.chloe,
        number=1,
        product="claravis",
        rule_pack="us-ipledge-2026",
        prescriber=world.prescriber,
    )
    with pytest.raises(ValidationError) as caught:
        rs.consent_record(
            user=world.prescriber,
            course_id=course.pk,
            kind="informed_consent",
            signed_on=ago(1),
            document_version="2026-02",
        )
    assert "guardian_signed" in caught.value.message_dict


@pytest.mark.parametrize("who", ["staff", "pharmacist", "bob_user", "other_prescriber"])
def test_only_the_patients_prescriber_writes_a_prescription(world, bob_course, who):
    with pytest.raises(PermissionDenied):
        rs.prescription_write(user=getattr(world, who), course_id=bob_course.pk, days_supply=30)


def test_clinic_staff_may_record_a_test_but_not_enrol(world, bob_course):
    rs.pregnancy_test_record(
        user=world.staff,
        course_id=bob_course.pk,
        specimen_date=ago(1),
        result="negative",
        setting="clinic",
    )
    with pytest.raises(PermissionDenied):
        rs.enrolment_record(user=world.staff, course_id=bob_course.pk, enrolled_on=ago(1))
