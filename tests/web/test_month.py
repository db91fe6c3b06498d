"""The patient's month grid: doses, tests, fills and deadlines on the right days."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.utils import timezone

from isoguard.courses.models import Course
from isoguard.demo import create_demo
from isoguard.web.month import month_grid


def test_the_grid_covers_the_month_and_the_week_ahead_with_each_days_events(db):
    today = dt.date(2026, 11, 28)
    with time_machine.travel(dt.datetime(2026, 11, 28, 15, tzinfo=dt.UTC), tick=False):
        create_demo(today)
        course = Course.objects.get(patient__given_name="Chloe")
        weeks = month_grid(course, timezone.localdate())
    days = {d.date: d for week in weeks for d in week}
    assert dt.date(2026, 11, 1) in days and max(days) >= today + dt.timedelta(days=7)
    assert all(len(week) == 7 and week[0].date.weekday() == 0 for week in weeks)
    assert [d.date for d in days.values() if d.today] == [today]
    assert ("test", "pregnancy test") in days[today - dt.timedelta(days=27)].marks
    assert any(kind == "deadline" for d in days.values() for kind, _ in d.marks)
    # Before the first dose there is no dose; days already passed are taken or missed.
    first = course.first_dose_on
    assert (
        days[first - dt.timedelta(days=1)].doses == []
        if first - dt.timedelta(days=1) in days
        else True
    )
    past = [state for d in days.values() if d.date < today for _, state in d.doses]
    assert past and set(past) <= {"taken", "missed"}
    assert all(state == "due" for d in days.values() if d.date > today for _, state in d.doses)
