"""A patient answers the mood questionnaire in Chromium; item 9 shows the crisis numbers first."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from isoguard.demo import DEMO_PASSWORD
from isoguard.patients.models import Patient
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_a_positive_item_9_shows_the_crisis_numbers_and_tops_the_worklist(
    demo, browser, page, live_server
):
    ben = Patient.objects.get(user__username="ben")
    log_in(page, "ben", DEMO_PASSWORD)
    expect(page.get_by_role("heading", name="Hello, Ben")).to_be_visible()
    due = page.get_by_test_id("mood-due")
    if due.count():
        due.get_by_role("link").click()
    else:
        page.goto(f"/patients/{ben.pk}/mood/new/")
    expect(page).to_have_url(f"{live_server.url}/patients/{ben.pk}/mood/new/")

    form = page.get_by_test_id("mood-form")
    for item in range(1, 10):
        answer = "Several days" if item == 9 else "Not at all"
        form.locator(f'fieldset[data-item="{item}"]').get_by_label(answer, exact=True).check()
    form.get_by_role("button", name="Send my answers").click()

    urgent = page.get_by_test_id("urgent-calls")
    expect(urgent).to_be_visible()
    expect(urgent.locator("a.number", has_text="911")).to_have_attribute("href", "tel:911")
    expect(urgent.locator("a.number", has_text="988")).to_have_attribute("href", "tel:988")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("PHQ-9")
    box, title = urgent.bounding_box(), heading.bounding_box()
    assert box is not None and title is not None
    assert box["y"] + box["height"] <= title["y"]
    expect(page.get_by_test_id("mood-message")).to_contain_text("told straight away")

    clinic = browser.new_context(base_url=live_server.url)
    try:
        staff = clinic.new_page()
        log_in(staff, "dr.rivera", DEMO_PASSWORD)
        top = staff.get_by_test_id("worklist-row").first
        expect(top).to_contain_text("Ben Okafor")
        expect(top.locator(".level")).to_have_text("emergency")
        expect(top).to_contain_text("Mood screen phq9: score 1")
    finally:
        clinic.close()
