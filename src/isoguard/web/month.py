"""The patient's month as a picture: each day's doses, tests, fills and deadlines on a calendar."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

from isoguard.core.model import CourseRecord
from isoguard.core.programs.obligations import Obligation
from isoguard.core.vocabulary import DoseTime
from isoguard.courses.convert import course_record
from isoguard.courses.models import Course
from isoguard.courses.selectors import course_timeline


@dataclass
class Day:
    date: dt.date
    in_month: bool
    today: bool
    doses: list[tuple[str, str]] = field(default_factory=list)
    """(time, "taken" | "missed" | "due")"""
    marks: list[tuple[str, str]] = field(default_factory=list)
    """(kind, words): test, fill, deadline"""


def month_grid(
    course: Course,
    today: dt.date,
    *,
    record: CourseRecord | None = None,
    timeline: tuple[Obligation, ...] | None = None,
) -> list[list[Day]]:
    """Weeks (Monday first) of the month of `today` and at least the week ahead, each day with
    what happened or is due (`record` and `timeline`: the course's, when the caller has them)."""
    first = today.replace(day=1)
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(today.year, today.month)
    while weeks[-1][-1] < today + dt.timedelta(days=7):  # always show the week ahead
        start = weeks[-1][-1] + dt.timedelta(days=1)
        weeks.append([start + dt.timedelta(days=i) for i in range(7)])
    days = {d: Day(d, d.month == today.month, d == today) for week in weeks for d in week}
    diary = {(e.day, e.time): e.taken for e in course.diary.filter(day__gte=weeks[0][0])}
    record = record or course_record(course)
    marks = course_timeline(course, record=record) if timeline is None else timeline
    started = course.first_dose_on
    ended = course.last_dose_on
    if any(ob.id == "positive_pregnancy_test" for ob in marks):
        # No dose to come after a positive test.
        ended = min(filter(None, (ended, today - dt.timedelta(days=1))))
    for day in days.values():
        if started is None or day.date < started or (ended is not None and day.date > ended):
            continue
        for time in DoseTime:
            taken = diary.get((day.date, time))
            state = "taken" if taken else "missed" if taken is False else "due"
            if state == "due" and day.date < today:
                state = "missed"  # not ticked: the diary counts it as not taken
            if day.date <= today or state == "due":
                day.doses.append((time.value, state))
    for event in record.events:
        day = days.get(getattr(event, "date", None) or getattr(event, "specimen_date", None))
        if day is None:
            continue
        if event.event_type == "pregnancy_test":
            day.marks.append(("test", "pregnancy test"))
        elif event.event_type == "dispense":
            day.marks.append(("fill", "capsules collected"))
        elif event.event_type == "prescription":
            day.marks.append(("fill", "prescription written"))
    for ob in marks:
        if ob.due in days and ob.due >= first:
            days[ob.due].marks.append(("deadline", ob.what))
    return [[days[d] for d in week] for week in weeks]
