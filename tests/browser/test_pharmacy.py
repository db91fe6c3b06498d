"""A pharmacist in Chromium: a refusal on day 8 of the window, and a fill on day 7."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from isoguard.courses.models import Dispense, PregnancyTest, Prescription
from isoguard.demo import DEMO_PASSWORD
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def open_fatimas_prescription(page):
    log_in(page, "pharm.chen", DEMO_PASSWORD)
    rx = Prescription.objects.get(course__patient__given_name="Fatima", dispense__isnull=True)
    page.goto(f"/pharmacy/prescriptions/{rx.pk}/")
    return rx


def test_the_pharmacist_sees_a_refusal_on_day_8_with_the_reason(demo, page):
    latest = (
        PregnancyTest.objects.filter(patient__given_name="Fatima")
        .order_by("-specimen_date")
        .first()
    )
    PregnancyTest.objects.filter(pk=latest.pk).update(
        specimen_date=latest.specimen_date - dt.timedelta(days=1)
    )  # today becomes day 8
    open_fatimas_prescription(page)

    expect(page.get_by_test_id("decision")).to_contain_text("Refused")
    reasons = page.get_by_test_id("reasons")
    expect(reasons.locator('[data-rule="pregnancy_test.window"]')).to_contain_text(
        "A new negative test is needed"
    )
    expect(page.get_by_role("button", name="Record the dispense")).to_have_count(0)


def test_on_day_7_the_pharmacist_gives_the_guide_and_records_the_fill(demo, page):
    rx = open_fatimas_prescription(page)
    expect(page.get_by_test_id("decision")).to_contain_text("Refused")
    page.get_by_role("button", name="Medication Guide given and acknowledged").click()

    expect(page.get_by_test_id("decision")).to_contain_text("Authorised: dispense by")
    page.get_by_label("iPLEDGE RMA number (US)").fill("RMA-12345")
    page.get_by_role("button", name="Record the dispense").click()

    expect(page.get_by_test_id("decision")).to_contain_text("Dispensed on")
    assert Dispense.objects.get(prescription=rx).rma_number == "RMA-12345"
