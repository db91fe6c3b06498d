"""A patient ticks a week of doses in Chromium; the chart and the projected end follow."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from isoguard.courses.models import Course
from isoguard.demo import DEMO_PASSWORD
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def fresh_week(demo):
    """Alice's diary with the last seven days not yet ticked."""
    course = Course.objects.get(patient__given_name="Alice")
    since = timezone.localdate() - dt.timedelta(days=6)
    course.diary.filter(day__gte=since).delete()
    return course


def test_a_week_of_ticks_with_one_missed_dose_moves_the_chart_and_the_end_date(fresh_week, page):
    log_in(page, "alice", DEMO_PASSWORD)
    page.get_by_role("link", name="Tick today's doses").click()
    end_before = page.get_by_test_id("projected-end").inner_text()
    line_before = page.get_by_test_id("taken-line").get_attribute("points")

    today = timezone.localdate()
    for offset in range(6, -1, -1):
        day = (today - dt.timedelta(days=offset)).isoformat()
        for time in ("morning", "evening"):
            answer = "missed" if (offset, time) == (3, "evening") else "taken"
            page.get_by_role("button", name=f"{time} {day} {answer}", exact=True).click()
            row = page.locator(f'tr[data-day="{day}"] td[data-time="{time}"]')
            expect(row).to_contain_text("missed" if answer == "missed" else "taken")
            if answer == "missed":
                expect(page.get_by_test_id("diary")).to_contain_text(
                    "Do not take two doses to make up for it"
                )

    end_after = page.get_by_test_id("projected-end").inner_text()
    assert end_after < end_before  # the doses ticked bring the end closer
    assert page.get_by_test_id("taken-line").get_attribute("points") != line_before
    # Two doses the demo already marks as missed, and this week's one.
    expect(page.get_by_test_id("taken")).to_contain_text("3 missed or not ticked")
