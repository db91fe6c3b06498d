"""A patient reports a side effect in Chromium; the worklist puts it at the top."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from isoguard.demo import DEMO_PASSWORD
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

STOMACH = "can't keep any food down since yesterday and my stomach is killing me"


def test_a_stop_and_call_report_tells_the_patient_and_tops_the_worklist(demo, browser, page):
    log_in(page, "alice", DEMO_PASSWORD)
    form = page.get_by_test_id("report-form")
    form.get_by_label("In your own words").fill(STOMACH)
    form.get_by_role("button", name="Send to my clinic").click()

    expect(page.get_by_test_id("advice-headline")).to_have_text(
        "Stop taking isotretinoin now and contact your prescriber right away."
    )
    expect(page.get_by_test_id("clinic-call")).to_contain_text("+1 555 0100")
    expect(page.get_by_test_id("report-status")).to_contain_text("not read yet")

    staff = browser.new_context(base_url=page.url.split("/reports/")[0])
    clinic = staff.new_page()
    log_in(clinic, "dr.rivera", DEMO_PASSWORD)
    top = clinic.get_by_test_id("worklist-row").first
    expect(top).to_contain_text("Alice Moreno")
    expect(top).to_contain_text("stop and call")
    top.get_by_role("link").click()
    text = clinic.get_by_test_id("report-text")
    expect(text.locator('mark[title="severe_vomiting"]')).to_have_text("can't keep any food down")
    expect(text.locator('mark[title="severe_abdominal_pain"]')).to_have_text(
        "stomach is killing me"
    )
    clinic.get_by_role("button", name="Acknowledge: the clinic has seen it").click()
    expect(clinic.locator(".messages")).to_contain_text("Report acknowledged")
    clinic.get_by_label("What was done (the patient sees this note)").fill(
        "Called Alice: stopped the capsules, seen in clinic today."
    )
    clinic.get_by_role("button", name="Resolve").click()
    expect(clinic.get_by_test_id("resolved")).to_contain_text("seen in clinic today")
    staff.close()

    page.reload()
    expect(page.get_by_test_id("report-status")).to_contain_text("Seen by your clinic (Ana Rivera)")
    expect(page.get_by_test_id("report-status")).to_contain_text("seen in clinic today")


def test_thoughts_of_suicide_show_the_emergency_and_crisis_numbers_first(demo, page):
    log_in(page, "ben", DEMO_PASSWORD)
    page.get_by_test_id("report-form").get_by_label("In your own words").fill(
        "honestly i dont want to be alive anymore"
    )
    page.get_by_role("button", name="Send to my clinic").click()
    urgent = page.get_by_test_id("urgent-calls")
    expect(urgent).to_contain_text("911")
    expect(urgent).to_contain_text("988")
    box = urgent.bounding_box()
    headline = page.get_by_test_id("advice-headline").bounding_box()
    assert box is not None and headline is not None and box["y"] < headline["y"]


def test_a_patient_who_prefers_to_tick_gets_self_care_tips(demo, page):
    log_in(page, "ben", DEMO_PASSWORD)
    form = page.get_by_test_id("report-form")
    form.locator("summary").click()
    form.get_by_label("Dry mouth").check()
    form.get_by_role("button", name="Send to my clinic").click()
    expect(page.get_by_test_id("self-care-tips")).to_contain_text("sugarless")
