"""`isoguard demo` builds six patients in six situations, and logs every demo user in."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from isoguard.accounts.models import User
from isoguard.courses.models import Course, Dispense, PregnancyTest, Prescription
from isoguard.demo import DEMO_PASSWORD, create_demo
from isoguard.patients.models import Patient

TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def demo(db):
    return create_demo(TODAY)


def test_the_demo_has_one_clinic_one_pharmacy_and_the_six_patients(demo):
    usernames = {login.username for login in demo}
    assert {"dr.rivera", "nurse.kim", "pharm.chen", "admin", "chloe.parent"} <= usernames
    assert Patient.objects.count() == 6
    assert set(User.objects.values_list("role", flat=True)) == {
        "prescriber",
        "clinic_staff",
        "pharmacist",
        "patient",
        "guardian",
        "administrator",
    }


def test_each_demo_patient_is_in_the_situation_the_readme_describes(demo):
    def course_of(given):
        return Course.objects.get(patient__given_name=given)

    def can_become_pregnant(given):
        return (
            Patient.objects.get(given_name=given)
            .pregnancy_potential_assessments.first()
            .can_become_pregnant
        )

    alice = course_of("Alice")
    assert can_become_pregnant("Alice") and alice.status == "active"
    assert (TODAY - alice.first_dose_on).days == 40  # "six weeks into her course"
    ben = course_of("Ben")
    assert not can_become_pregnant("Ben") and ben.status == "active"
    assert (TODAY - ben.first_dose_on).days == 20  # "three weeks in"
    dev = Patient.objects.get(given_name="Dev")
    assert [m.name for m in dev.medicines.all()] == ["minocycline 100 mg"]
    chloe = Patient.objects.get(given_name="Chloe")
    assert (
        chloe.age_on(TODAY) == 16 and chloe.guardianships.get().guardian.username == "chloe.parent"
    )
    assert course_of("Dev").status == "screening" and course_of("Dev").first_dose_on is None
    erin = course_of("Erin")
    assert erin.status == "completed" and (TODAY - erin.last_dose_on).days == 30
    # Fatima's newest test was taken six days ago: today is day 7 of the window, its last day.
    latest = PregnancyTest.objects.filter(patient__given_name="Fatima").order_by("-specimen_date")[
        0
    ]
    assert (TODAY - latest.specimen_date).days == 6
    waiting = Prescription.objects.filter(
        course__patient__given_name="Fatima", dispense__isnull=True
    )
    assert waiting.get().written_on == latest.specimen_date


def test_each_treated_demo_patient_was_screened_before_the_course_and_dev_not_yet(demo):
    from isoguard.screenings.models import Screening

    screened = Screening.objects.filter(course__isnull=False)
    assert sorted(s.patient.given_name for s in screened) == [
        "Alice",
        "Ben",
        "Chloe",
        "Erin",
        "Fatima",
    ]
    assert all(s.outcome == "eligible" and s.as_of < s.course.enrolled_on for s in screened)
    assert not Screening.objects.filter(patient__given_name="Dev").exists()


def test_every_dispense_in_the_demo_is_of_a_prescription_presented_at_the_demo_pharmacy(demo):
    for dispense in Dispense.objects.select_related("prescription"):
        assert dispense.pharmacy_id == dispense.prescription.pharmacy_id


@pytest.mark.parametrize(
    ("username", "heading"),
    [
        ("dr.rivera", "Patients of Riverside Dermatology"),
        ("nurse.kim", "Patients of Riverside"),
        ("pharm.chen", "Prescriptions presented at Main Street Pharmacy"),
        ("admin", "Administration"),
        ("alice", "Hello, Alice"),
        ("ben", "Hello, Ben"),
        ("chloe", "Hello, Chloe"),
        ("chloe.parent", "The patients you care for"),
        ("dev", "Hello, Dev"),
        ("erin", "Hello, Erin"),
        ("fatima", "Hello, Fatima"),
    ],
)
def test_every_demo_user_logs_in_with_the_printed_password_and_sees_their_home(
    demo, client, username, heading
):
    response = client.post(
        "/accounts/login/", {"username": username, "password": DEMO_PASSWORD}, follow=True
    )
    assert heading in response.content.decode()


def test_the_command_prints_the_logins_and_the_password(db):
    out = StringIO()
    call_command("demo", "--today", "2026-11-25", stdout=out)
    text = out.getvalue()
    assert DEMO_PASSWORD in text
    assert "dr.rivera" in text and "pharm.chen" in text and "chloe.parent" in text


def test_if_empty_leaves_an_existing_database_alone(demo):
    out = StringIO()
    call_command("demo", "--if-empty", stdout=out)
    assert "already has data" in out.getvalue()
    assert Patient.objects.count() == 6


def test_without_if_empty_a_database_with_users_is_refused_with_a_way_forward(demo):
    with pytest.raises(CommandError, match=r"delete var/isoguard\.sqlite3"):
        call_command("demo")


def test_a_bad_today_is_refused_naming_the_option(db):
    with pytest.raises(CommandError, match="--today: '25/11/2026' is not a date"):
        call_command("demo", "--today", "25/11/2026")
