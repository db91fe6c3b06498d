"""Every clinical date typed in (or imported) lies from the patient's birth to today, or up to a
year ahead where a date ahead means something; any other is refused naming the field, and nothing
is stored (courses/dates.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from isoguard.core.screening_input import ScreeningInputError
from isoguard.courses import lab_services
from isoguard.courses import record_services as rs
from isoguard.courses.dates import AHEAD_DAYS
from isoguard.courses.dosing_services import diary_record, dose_plan_set
from isoguard.courses.models import (
    Consent,
    ContraceptionPlan,
    Course,
    DoseDiaryEntry,
    DosePlan,
    LabResult,
    MonthlyCheck,
    PregnancyTest,
)
from isoguard.courses.mood_services import mood_record
from isoguard.interop.fhir import importer
from isoguard.interop.fhir.mapping import ICD10
from isoguard.patients.models import Diagnosis, Patient, WeightMeasurement
from isoguard.screenings.models import Screening
from isoguard.screenings.services import screening_run
from tests.conftest import make_course

BORN = dt.date(2001, 5, 4)  # Bob's birth date (tests/conftest.py)
DAY = dt.timedelta(days=1)


def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture
def course(world):
    """Bob on a planned course: the clinic records its steps."""
    assert world.bob.birth_date == BORN
    return make_course(world.bob, world.prescriber, status="screening")


@dataclass(frozen=True)
class Case:
    """One service's date: how to write it, what it stores, and whether it may lie ahead."""

    field: str
    write: Callable[[object, Course, dt.date], object]
    stored: Callable[[Course], object]
    ahead: bool = False

    def last(self) -> dt.date:
        return today() + dt.timedelta(days=AHEAD_DAYS if self.ahead else 0)


def clinic(world, course) -> dict[str, object]:
    return {"user": world.prescriber, "course_id": course.pk}


CASES = {
    "enrolment": Case(
        "enrolled_on",
        lambda w, c, day: rs.enrolment_record(**clinic(w, c), enrolled_on=day),
        lambda c: Course.objects.values_list("enrolled_on", "status").get(pk=c.pk),
    ),
    "consent": Case(
        "signed_on",
        lambda w, c, day: rs.consent_record(
            **clinic(w, c),
            kind="informed_consent",
            signed_on=day,
            document_version="2026-02",
            guardian_signed=True,  # signed on the day of birth, the patient is a minor
        ),
        lambda c: Consent.objects.count(),
    ),
    "contraception start": Case(
        "start",
        lambda w, c, day: rs.contraception_record(**clinic(w, c), methods=["iud"], start=day),
        lambda c: ContraceptionPlan.objects.count(),
        ahead=True,
    ),
    "contraception end": Case(
        "end",
        lambda w, c, day: rs.contraception_record(
            **clinic(w, c), methods=["iud"], start=BORN, end=day
        ),
        lambda c: ContraceptionPlan.objects.count(),
        ahead=True,
    ),
    "pregnancy test": Case(
        "specimen_date",
        lambda w, c, day: rs.pregnancy_test_record(
            **clinic(w, c), specimen_date=day, result="negative", setting="clinic"
        ),
        lambda c: PregnancyTest.objects.count(),
    ),
    "counselling": Case(
        "done_on",
        lambda w, c, day: rs.counselling_record(**clinic(w, c), done_on=day),
        lambda c: MonthlyCheck.objects.count(),
    ),
    "lab": Case(
        "taken_on",
        lambda w, c, day: lab_services.lab_record(
            user=w.prescriber,
            patient_id=w.bob.pk,
            test="triglycerides",
            value="210",
            unit="mg/dL",
            taken_on=day,
        ),
        lambda c: LabResult.objects.count(),
    ),
    "dose plan": Case(
        "effective_from",
        lambda w, c, day: dose_plan_set(
            **clinic(w, c),
            mg_per_kg_day=Decimal("1.0"),
            target_mg_per_kg=120,
            effective_from=day,
            weight_kg=Decimal("60.0"),
        ),
        # Nothing stored: neither the plan nor the new weight that comes with it.
        lambda c: (DosePlan.objects.count(), WeightMeasurement.objects.count()),
        ahead=True,
    ),
    "screening": Case(
        "previous_course_last_dose",
        lambda w, c, day: screening_run(
            user=w.prescriber,
            patient_id=w.bob.pk,
            fields={
                "diagnosis": "severe_recalcitrant_nodular_acne",
                "failed_treatments": ["oral_doxycycline"],
                "can_become_pregnant": False,
                "previous_course_last_dose": day.isoformat(),
            },
        ),
        lambda c: Screening.objects.count(),
    ),
}


def refusal(call: Callable[[], object]) -> dict[str, list[str]]:
    """The errors by field of a refused write (a screening names its field its own way)."""
    with pytest.raises((ValidationError, ScreeningInputError)) as caught:
        call()
    error = caught.value
    if isinstance(error, ScreeningInputError):
        return {error.field: [error.message]}
    return error.message_dict


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("day", [dt.date(1, 1, 1), BORN - DAY], ids=["year 1", "eve of birth"])
def test_a_date_before_the_birth_date_is_refused_naming_the_field(world, course, name, day):
    case = CASES[name]
    before = case.stored(course)
    errors = refusal(lambda: case.write(world, course, day))
    assert list(errors) == [case.field]
    assert errors[case.field] == [
        f"must be between {BORN.isoformat()} (the patient's birth date) and "
        f"{case.last().isoformat()} ({'365 days from today' if case.ahead else 'today'}), "
        f"got {day.isoformat()}"
    ]
    assert case.stored(course) == before


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("far", [False, True], ids=["day after the last", "year 9999"])
def test_a_date_after_the_window_is_refused_naming_the_field(world, course, name, far):
    case = CASES[name]
    day = dt.date(9999, 12, 31) if far else case.last() + DAY
    before = case.stored(course)
    errors = refusal(lambda: case.write(world, course, day))
    assert list(errors) == [case.field]
    # The screening's own reader refuses a last dose after the screening day in its own words.
    assert case.last().isoformat() in errors[case.field][0] or name == "screening"
    assert "got" in errors[case.field][0] or "in the future" in errors[case.field][0]
    assert case.stored(course) == before


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("edge", ["birth", "last"])
def test_a_date_on_the_boundary_is_accepted(world, course, name, edge):
    case = CASES[name]
    before = case.stored(course)
    case.write(world, course, BORN if edge == "birth" else case.last())
    assert case.stored(course) != before


def test_a_mood_screen_and_the_weight_of_a_dose_plan_are_dated_today_by_the_service(world, course):
    """No one types these dates: the services write today's, inside the window."""
    dose_plan_set(**clinic(world, course), mg_per_kg_day=Decimal("1.0"), target_mg_per_kg=120,
                  effective_from=today(), weight_kg=Decimal("58.0"))  # fmt: skip
    assert world.bob.weights.get().measured_on == today()
    assessment, _ = mood_record(
        user=world.bob_user, patient_id=world.bob.pk, answers={n: 0 for n in range(1, 10)}
    )
    assert assessment.assessed_on == today()


# --- the dose diary: from the first dose (not before birth) to today ----------------------------


@pytest.fixture
def diary_course(world):
    """Alice's active course, first dose ten days ago, with a dose from then."""
    course = Course.objects.get(patient=world.alice)
    Course.objects.filter(pk=course.pk).update(first_dose_on=today() - 10 * DAY)
    course.refresh_from_db()
    dose_plan_set(**clinic(world, course), mg_per_kg_day=Decimal("1.0"), target_mg_per_kg=120,
                  effective_from=course.first_dose_on)  # fmt: skip
    return course


def tick(world, course, day):
    return diary_record(
        user=world.alice_user, course_id=course.pk, day=day, time="morning", taken=True
    )


@pytest.mark.parametrize("offset", [-11, 1], ids=["before the first dose", "tomorrow"])
def test_a_diary_day_out_of_the_course_is_refused_naming_the_day(world, diary_course, offset):
    first = diary_course.first_dose_on
    day = today() + offset * DAY
    errors = refusal(lambda: tick(world, diary_course, day))
    assert errors == {"day": [f"must be between {first.isoformat()} (the first dose) and "
                              f"{today().isoformat()} (today), got {day.isoformat()}"]}  # fmt: skip
    assert not DoseDiaryEntry.objects.exists()


def test_a_diary_day_on_the_boundary_is_accepted(world, diary_course):
    tick(world, diary_course, diary_course.first_dose_on)
    tick(world, diary_course, today())
    assert DoseDiaryEntry.objects.count() == 2


# --- the FHIR import: the same window, the element named ---------------------------------------


def bundle(recorded: dt.date) -> dict:
    """A patient born on BORN with one diagnosis recorded on `recorded`."""
    patient = {"resourceType": "Patient", "id": "ada", "birthDate": BORN.isoformat(),
               "name": [{"family": "Lovelace", "given": ["Ada"]}]}  # fmt: skip
    condition = {"resourceType": "Condition", "id": "acne",
                 "subject": {"reference": "Patient/ada"},
                 "code": {"coding": [{"system": ICD10, "code": "L70.0"}], "text": "Acne"},
                 "recordedDate": recorded.isoformat()}  # fmt: skip
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:ada", "resource": patient,
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:acne", "resource": condition,
         "request": {"method": "POST", "url": "Condition"}},
    ]}  # fmt: skip


def test_an_imported_date_before_the_birth_date_is_refused_naming_the_element(world):
    patients = Patient.objects.count()
    errors = refusal(lambda: importer.import_bundle(bundle(BORN - DAY), world.clinic, world.admin))
    where = "Bundle.entry[1].resource.recordedDate"
    assert errors == {where: [f"must be between {BORN.isoformat()} (the patient's birth date) "
                              f"and {today().isoformat()} (today), got "
                              f"{(BORN - DAY).isoformat()}"]}  # fmt: skip
    assert Patient.objects.count() == patients and not Diagnosis.objects.exists()


def test_an_imported_date_on_the_birth_date_is_accepted(world):
    patient = importer.import_bundle(bundle(BORN), world.clinic, world.admin)
    assert patient.diagnoses.get().recorded_on == BORN


# --- the pages: the service's refusal shows on the form field -----------------------------------


def test_the_programme_page_shows_the_refusal_on_the_date_field(client, world, course):
    client.force_login(world.prescriber)
    response = client.post(
        f"/courses/{course.pk}/programme/",
        {"step": "pregnancy_test", "pregnancy_test-specimen_date": "0001-01-01",
         "pregnancy_test-result": "negative", "pregnancy_test-setting": "clinic"},
    )  # fmt: skip
    assert response.status_code == 200
    message = (
        f"must be between {BORN.isoformat()} (the patient&#x27;s birth date) and "
        f"{today().isoformat()} (today), got 0001-01-01"
    )
    form = response.context["forms"]["pregnancy_test"]
    assert form.errors["specimen_date"] == [message.replace("&#x27;", "'")]
    assert message in response.content.decode()
    assert not PregnancyTest.objects.exists()


def test_the_dose_page_shows_the_refusal_on_the_date_field(client, world, course):
    client.force_login(world.prescriber)
    response = client.post(
        f"/courses/{course.pk}/dose/",
        {"mg_per_kg_day": "1.0", "target_mg_per_kg": 120, "weight_kg": "60.0",
         "effective_from": "9999-12-31"},
    )  # fmt: skip
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["effective_from"]
    assert "365 days from today), got 9999-12-31" in errors["effective_from"][0]
    assert not DosePlan.objects.exists()


def test_the_pharmacists_do_not_dispense_after_date_years_ahead_is_refused(db):
    from isoguard.accounts.models import User
    from isoguard.courses.models import Dispense, Prescription
    from isoguard.courses.programme_services import dispense_record, medication_guide_record
    from isoguard.demo import create_demo

    create_demo(timezone.localdate())
    chen = User.objects.get(username="pharm.chen")
    rx = Prescription.objects.get(course__patient__given_name="Fatima", dispense__isnull=True)
    medication_guide_record(user=chen, prescription_id=rx.pk)
    with pytest.raises(ValidationError) as refused:
        dispense_record(user=chen, prescription_id=rx.pk, quantity=rx.quantity,
                        days_supply=rx.days_supply,
                        external_do_not_dispense_after=dt.date(9999, 12, 31))  # fmt: skip
    assert "external_do_not_dispense_after" in refused.value.message_dict
    assert not Dispense.objects.filter(prescription=rx).exists()


def test_a_contraception_end_past_the_window_says_to_leave_it_empty_and_that_works(world, course):
    # An IUD kept for years: the end is past the window, so the refusal says what to do instead,
    # and doing it records a plan that is open (in use until an end is recorded).
    late = today() + dt.timedelta(days=AHEAD_DAYS + 1)
    errors = refusal(
        lambda: rs.contraception_record(
            user=world.prescriber, course_id=course.pk, methods=["iud"], start=today(), end=late
        )
    )
    assert errors["end"][0].endswith(f"got {late.isoformat()}: {rs.LATER_END}")
    assert "leave the end empty" in rs.LATER_END
    assert ContraceptionPlan.objects.count() == 0
    plan = rs.contraception_record(
        user=world.prescriber, course_id=course.pk, methods=["iud"], start=today()
    )
    assert plan.end is None
    # A date before the birth date is not a late one: no such advice there.
    errors = refusal(
        lambda: rs.contraception_record(
            user=world.prescriber, course_id=course.pk, methods=["iud"], start=BORN, end=BORN - DAY
        )
    )
    assert rs.LATER_END not in errors["end"][0]
