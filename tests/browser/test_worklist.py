"""The prescriber's worklist in Chromium: the window that closes today is at the top."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from isoguard.demo import DEMO_PASSWORD
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_the_window_closing_today_is_at_the_top_of_the_worklist(demo, page):
    log_in(page, "dr.rivera", DEMO_PASSWORD)
    page.get_by_test_id("worklist-link").click()
    top = page.get_by_test_id("due-row").first
    expect(top).to_contain_text("Fatima Rahman")
    fatima = page.get_by_test_id("due-row").filter(has_text="or it expires")
    expect(fatima).to_contain_text("today")
    expect(fatima).to_contain_text("pharmacist")
    page.get_by_label("Who acts").select_option("pharmacist")
    page.get_by_role("button", name="Show").click()
    rows = page.get_by_test_id("due-row")
    expect(rows.first).to_contain_text("or it expires")
    for i in range(rows.count()):
        expect(rows.nth(i)).to_contain_text("pharmacist")


def test_the_patients_month_shows_doses_tests_and_whats_due(demo, page):
    log_in(page, "chloe", DEMO_PASSWORD)  # her next test is due within the week
    month = page.get_by_test_id("my-month")
    expect(month).to_be_visible()
    today = month.locator("td.today")
    expect(today).to_have_count(1)
    expect(month.locator(".dose-taken").first).to_be_visible()
    expect(month.locator(".mark-deadline").first).to_be_visible()
