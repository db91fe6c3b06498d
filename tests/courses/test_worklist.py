"""The clinic's worklist: what is due for every patient, most urgent first, in a fixed number of
queries whatever the number of patients."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from isoguard.courses import report_services
from isoguard.courses.models import Course, Dispense, Prescription
from isoguard.courses.worklist import (
    ALL_CHUNK,
    PAGE_SIZE,
    WorklistPage,
    clinic_worklist,
    pharmacy_worklist,
    worklist_page,
)
from isoguard.demo import create_demo
from isoguard.patients.models import Patient, PregnancyPotential


def test_the_demo_worklist_puts_todays_deadlines_first_and_reports_by_level(db):
    today = timezone.localdate()
    create_demo(today)
    from isoguard.accounts.models import User

    rivera = User.objects.get(username="dr.rivera")
    items = clinic_worklist(rivera, today)
    assert items[0].patient.given_name == "Fatima"  # her dispense window closes today
    closing = [i for i in items if i.who == "pharmacist"]
    assert closing[0].due == today and "or it expires" in closing[0].what
    # A stop-and-call report outranks every deadline.
    alice = Patient.objects.get(given_name="Alice")
    report = report_services.report_submit(
        user=alice.user, patient_id=alice.pk, text="the whites of my eyes are yellow"
    )
    top = clinic_worklist(rivera, today)[0]
    assert (top.report, top.urgency) == (report, "report_stop_and_call")
    # Erin finished her course: the post-course test and the end of contraception are listed.
    erin = [i.what for i in items if i.patient.given_name == "Erin"]
    assert any("after the last dose" in w for w in erin)
    # Filters.
    assert {i.kind for i in clinic_worklist(rivera, today, kind="mood")} == {"mood"}
    assert {i.who for i in clinic_worklist(rivera, today, who="pharmacist")} == {"pharmacist"}
    urgent = clinic_worklist(rivera, today, urgent_only=True)
    assert {i.urgency for i in urgent} == {
        "report_stop_and_call",
        "deadline_today",
        "report_call_today",
    }


def test_only_the_clinic_has_a_worklist_and_only_its_own_patients(world):
    today = timezone.localdate()
    assert clinic_worklist(world.pharmacist, today) == []
    assert clinic_worklist(world.alice_user, today) == []
    assert {i.patient for i in clinic_worklist(world.prescriber, today)} <= {
        world.alice,
        world.bob,
        world.chloe,
    }
    assert all(i.patient == world.hana for i in clinic_worklist(world.other_prescriber, today))


def many_patients(clinic, prescriber, pharmacy, n: int) -> None:
    """n patients, each on a course with a prescription filled two weeks ago."""
    start = Patient.objects.count()
    patients = Patient.objects.bulk_create(
        Patient(clinic=clinic, given_name=f"P{start + i}", family_name=f"Load{start + i:05}",
                birth_date=dt.date(2000, 1, 1), jurisdiction="US")
        for i in range(n)
    )  # fmt: skip
    PregnancyPotential.objects.bulk_create(
        PregnancyPotential(patient=p, can_become_pregnant=i % 2 == 0, reason="test",
                           assessed_on=dt.date(2026, 1, 1), assessed_by=prescriber)
        for i, p in enumerate(patients)
    )  # fmt: skip
    courses = Course.objects.bulk_create(
        Course(patient=p, number=1, product="claravis", rule_pack="us-ipledge-2026",
               status="active", prescriber=prescriber, first_dose_on=dt.date(2026, 10, 1))
        for p in patients
    )  # fmt: skip
    filled = timezone.localdate() - dt.timedelta(days=14)
    rxs = Prescription.objects.bulk_create(
        Prescription(course=c, prescriber=prescriber, pharmacy=pharmacy, written_on=filled,
                     days_supply=30, refills=0, daily_dose_mg=60, quantity=60)
        for c in courses
    )  # fmt: skip
    Dispense.objects.bulk_create(
        Dispense(prescription=rx, dispensed_on=filled, days_supply=30, quantity=60,
                 pharmacist=prescriber, pharmacy=pharmacy)
        for rx in rxs
    )  # fmt: skip


def queries_for(user) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        items = clinic_worklist(user, timezone.localdate())
    return len(captured), len(items)


@pytest.mark.parametrize("more", [5_000])
def test_the_whole_list_reads_a_thousand_courses_per_round_of_queries(world, more):
    many_patients(world.clinic, world.prescriber, world.pharmacy, 20)
    few, few_items = queries_for(world.prescriber)
    many_patients(world.clinic, world.prescriber, world.pharmacy, more)
    lots, lots_items = queries_for(world.prescriber)
    assert lots_items > few_items + more  # every patient is on it (a visit, and for half a test)
    rounds = -(-Course.objects.count() // ALL_CHUNK)  # 6 rounds for 5,023 courses
    per_round = 11  # one query per kind of row read (convert.course_records, dose plans)
    assert lots == few + (rounds - 1) * per_round, (few, lots)


def page_queries_for(user, **filters) -> tuple[int, WorklistPage]:
    worklist_page(user, timezone.localdate(), **filters)  # works out the stale courses
    with CaptureQueriesContext(connection) as captured:
        page = worklist_page(user, timezone.localdate(), **filters)
    return len(captured), page


@pytest.mark.parametrize("more", [5_000])
def test_a_page_costs_the_same_queries_for_300_patients_or_5300(world, more):
    many_patients(world.clinic, world.prescriber, world.pharmacy, 300)
    few, few_page = page_queries_for(world.prescriber)
    assert len(few_page.items) == PAGE_SIZE and few_page.more
    many_patients(world.clinic, world.prescriber, world.pharmacy, more)
    lots, page = page_queries_for(world.prescriber)
    assert len(page.items) == PAGE_SIZE and page.more
    assert lots == few, (few, lots)
    # The page is the start of the whole list, item for item.
    assert page.items == clinic_worklist(world.prescriber, timezone.localdate())[:PAGE_SIZE]


def test_the_pharmacy_sees_what_to_fill_soonest_window_first(db):
    from isoguard.accounts.models import User
    from isoguard.courses.programme_services import (
        dispense_authorisation,
        medication_guide_record,
    )

    today = timezone.localdate()
    create_demo(today)
    chen = User.objects.get(username="pharm.chen")
    items = pharmacy_worklist(chen.organisation_id, today)
    assert [i.prescription.course.patient.given_name for i in items] == ["Fatima"]
    assert items[0].deadline == today and items[0].closes_soon
    assert items[0].authorisation is None
    rx = items[0].prescription
    medication_guide_record(user=chen, prescription_id=rx.pk)
    decision = dispense_authorisation(user=chen, prescription_id=rx.pk)
    assert decision.allowed
    assert pharmacy_worklist(chen.organisation_id, today)[0].authorisation == decision
