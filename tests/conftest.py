"""Shared test personas: two clinics and two pharmacies, so every access rule has a wrong side."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

import pytest

TODAY = dt.date(2026, 11, 25)
CSRF_TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": "|csrfToken": ")[^"]*')


def page_text(response) -> str:
    """Return a page's HTML without its random CSRF tokens, which may spell any short word."""
    return CSRF_TOKEN.sub(r"\1", response.content.decode())


@dataclass
class World:
    """Who is who in the access tests, each with a reason to exist."""

    clinic: object
    other_clinic: object
    pharmacy: object
    other_pharmacy: object
    prescriber: object  # Riverside's prescriber: sees Riverside's patients
    staff: object  # Riverside's nurse: sees the same as the prescriber
    other_prescriber: object  # Hillside's prescriber: must not see Riverside's patients
    pharmacist: object  # Main Street: sees patients whose prescription was presented there
    other_pharmacist: object  # Harbour: has seen no Riverside prescription
    alice: object  # Riverside patient with a login and a prescription at Main Street
    alice_user: object
    bob: object  # Riverside patient with no prescription anywhere
    bob_user: object
    chloe: object  # Riverside minor, with a guardian
    guardian: object
    former_guardian: object  # guardianship ended: must no longer see Chloe
    hana: object  # Hillside patient
    admin: object  # manages users; sees no clinical record


def make_user(username: str, role: str, organisation: object | None = None, **extra: object):
    from isoguard.accounts.models import User

    user = User(username=username, role=role, organisation=organisation, **extra)
    user.set_password("a-long-test-password")
    user.full_clean(exclude=["password"])
    user.save()
    return user


def make_patient(clinic, given: str, *, user=None, birth_date=dt.date(2001, 5, 4)):
    from isoguard.patients.models import Patient

    return Patient.objects.create(
        clinic=clinic,
        user=user,
        given_name=given,
        family_name="Test",
        birth_date=birth_date,
        jurisdiction="US",
    )


def make_course(patient, prescriber, **fields):
    from isoguard.courses.models import Course

    defaults = {
        "number": 1,
        "product": "claravis",
        "rule_pack": "us-ipledge-2026",
        "status": "active",
        "prescriber": prescriber,
    }
    return Course.objects.create(patient=patient, **{**defaults, **fields})


def make_prescription(course, prescriber, pharmacy=None, **fields):
    from isoguard.courses.models import Prescription

    defaults = {
        "written_on": TODAY,
        "days_supply": 30,
        "refills": 0,
        "daily_dose_mg": 60,
        "quantity": 60,
    }
    return Prescription.objects.create(
        course=course, prescriber=prescriber, pharmacy=pharmacy, **{**defaults, **fields}
    )


@pytest.fixture
def world(db) -> World:
    from isoguard.accounts.models import Organisation
    from isoguard.patients.models import Guardianship

    clinic = Organisation.objects.create(name="Riverside", kind="clinic", jurisdiction="US")
    other_clinic = Organisation.objects.create(name="Hillside", kind="clinic", jurisdiction="US")
    pharmacy = Organisation.objects.create(name="Main Street", kind="pharmacy", jurisdiction="US")
    other_pharmacy = Organisation.objects.create(name="Harbour", kind="pharmacy", jurisdiction="US")
    prescriber = make_user("prescriber", "prescriber", clinic)
    other_prescriber = make_user("other_prescriber", "prescriber", other_clinic)
    alice_user = make_user("alice", "patient")
    bob_user = make_user("bob", "patient")
    alice = make_patient(clinic, "Alice", user=alice_user)
    bob = make_patient(clinic, "Bob", user=bob_user)
    chloe = make_patient(clinic, "Chloe", birth_date=dt.date(2010, 3, 1))
    hana = make_patient(other_clinic, "Hana")
    guardian = make_user("guardian", "guardian")
    former_guardian = make_user("former_guardian", "guardian")
    Guardianship.objects.create(guardian=guardian, patient=chloe, since=dt.date(2020, 1, 1))
    Guardianship.objects.create(
        guardian=former_guardian,
        patient=chloe,
        since=dt.date(2020, 1, 1),
        until=dt.date(2021, 1, 1),
    )
    course = make_course(alice, prescriber)
    make_prescription(course, prescriber, pharmacy)
    hana_course = make_course(hana, other_prescriber)
    make_prescription(hana_course, other_prescriber, other_pharmacy)
    from isoguard.patients.models import WeightMeasurement

    WeightMeasurement.objects.create(
        patient=alice, measured_on=TODAY, weight_kg=Decimal("61.5"), recorded_by=prescriber
    )
    admin = make_user("admin", "administrator", is_staff=True, is_superuser=True)
    return World(
        clinic=clinic,
        other_clinic=other_clinic,
        pharmacy=pharmacy,
        other_pharmacy=other_pharmacy,
        prescriber=prescriber,
        staff=make_user("staff", "clinic_staff", clinic),
        other_prescriber=other_prescriber,
        pharmacist=make_user("pharmacist", "pharmacist", pharmacy),
        other_pharmacist=make_user("other_pharmacist", "pharmacist", other_pharmacy),
        alice=alice,
        alice_user=alice_user,
        bob=bob,
        bob_user=bob_user,
        chloe=chloe,
        guardian=guardian,
        former_guardian=former_guardian,
        hana=hana,
        admin=admin,
    )
