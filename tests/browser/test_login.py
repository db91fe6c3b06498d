"""A person opens isoguard in Chromium, logs in, and lands on the home page of their role."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from isoguard.demo import DEMO_PASSWORD
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

HOMES = [
    ("dr.rivera", "Patients of Riverside Dermatology", "prescriber"),
    ("nurse.kim", "Patients of Riverside Dermatology", "clinic staff"),
    ("pharm.chen", "Prescriptions presented at Main Street Pharmacy", "pharmacist"),
    ("admin", "Administration", "administrator"),
    ("alice", "Hello, Alice", "patient"),
    ("ben", "Hello, Ben", "patient"),
    ("chloe", "Hello, Chloe", "patient"),
    ("chloe.parent", "The patients you care for", "guardian"),
    ("dev", "Hello, Dev", "patient"),
    ("erin", "Hello, Erin", "patient"),
    ("fatima", "Hello, Fatima", "patient"),
]


@pytest.mark.parametrize(("username", "heading", "role"), HOMES)
def test_each_demo_user_logs_in_and_sees_their_own_home(demo, page, username, heading, role):
    log_in(page, username, DEMO_PASSWORD)

    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_test_id("who")).to_contain_text(f"· {role}")


def test_a_wrong_password_keeps_the_person_on_the_login_page_with_a_reason(demo, page):
    log_in(page, "alice", "not-her-password")

    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.locator(".errorlist")).to_contain_text("correct username and password")


def test_the_prescriber_opens_a_patient_from_the_list(demo, page):
    log_in(page, "dr.rivera", DEMO_PASSWORD)
    page.get_by_role("link", name="Fatima Rahman").click()

    expect(page.get_by_test_id("patient-name")).to_have_text("Fatima Rahman")
    expect(page.get_by_test_id("pregnancy-potential")).to_contain_text("yes")


def test_a_patient_who_types_another_patients_address_is_refused(demo, page):
    from isoguard.patients.models import Patient

    ben = Patient.objects.get(given_name="Ben")
    log_in(page, "alice", DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")

    response = page.goto(f"/patients/{ben.pk}/")

    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("You may not see this")
    expect(page.locator("main")).not_to_contain_text("Okafor")


def test_the_pharmacist_sees_a_prescription_and_not_a_patient_in_screening(demo, page):
    from isoguard.patients.models import Patient

    dev = Patient.objects.get(given_name="Dev")
    log_in(page, "pharm.chen", DEMO_PASSWORD)
    expect(page.get_by_test_id("prescription-list")).to_contain_text("Fatima Rahman")
    expect(page.get_by_test_id("prescription-list")).not_to_contain_text("Dev Patel")

    response = page.goto(f"/patients/{dev.pk}/")

    assert response is not None and response.status == 403


def test_logging_out_returns_to_the_login_page(demo, page):
    log_in(page, "ben", DEMO_PASSWORD)
    page.get_by_role("button", name="Log out").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
