"""A prescriber in Chromium fixes a refused prescription by recording the missing test."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from isoguard.courses.models import Course, PregnancyTest
from isoguard.demo import DEMO_PASSWORD
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_the_prescriber_records_the_missing_test_then_writes_the_prescription(demo, page):
    # Alice's course is due: her last test was twelve days ago, so its window has closed.
    alice = Course.objects.get(patient__given_name="Alice")
    assert PregnancyTest.objects.filter(patient=alice.patient).latest(
        "specimen_date"
    ).specimen_date == timezone.localdate() - dt.timedelta(days=12)
    log_in(page, "dr.rivera", DEMO_PASSWORD)
    page.goto(f"/courses/{alice.pk}/programme/")

    preview = page.get_by_test_id("prescribe-preview")
    expect(preview).to_contain_text("A prescription cannot be written yet")
    expect(preview.locator('[data-rule="pregnancy_test.window"]')).to_contain_text("closed")

    step = page.locator('[data-step="prescribe"]')
    step.get_by_role("button", name="Write the prescription").click()
    expect(page.locator('[data-step="prescribe"] .errorlist')).to_contain_text("Not written")

    test_form = page.locator('[data-step="pregnancy_test"]')
    test_form.get_by_label("Result").select_option("negative")
    test_form.get_by_label("Where").select_option("lab")
    test_form.get_by_role("button", name="Record").click()
    expect(page.locator(".messages")).to_contain_text("Pregnancy test recorded")
    counselling = page.locator('[data-step="counselling"]')
    counselling.get_by_role("button", name="Record").click()

    expect(page.get_by_test_id("prescribe-preview")).to_contain_text(
        "A 30-day prescription may be written today"
    )
    page.locator('[data-step="prescribe"]').get_by_role(
        "button", name="Write the prescription"
    ).click()
    expect(page.locator(".messages")).to_contain_text("Prescription written: 30 days")
