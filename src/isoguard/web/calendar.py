"""The patient's calendar (.ics): dose times until the projected end, and the dates ahead."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

# The dose times when the patient has not chosen their own (the reminders' defaults).
DOSE_TIMES = {"morning": dt.time(8, 0), "evening": dt.time(20, 0)}


@dataclass(frozen=True)
class DatedStep:
    day: dt.date
    title: str
    description: str


def course_calendar(
    *,
    course_uid: str,
    time_zone: str,
    first_day: dt.date,
    last_day: dt.date,
    doses_mg: dict[str, int],
    instructions: list[str],
    steps: list[DatedStep],
    stamp: dt.datetime,
    dose_times: dict[str, dt.time] | None = None,
) -> bytes:
    """Return an iCalendar file: a daily event per dose time, and an all-day event per step."""
    zone = ZoneInfo(time_zone)
    times = {**DOSE_TIMES, **(dose_times or {})}
    calendar = Calendar()
    calendar.add("prodid", "-//isoguard//isotretinoin course//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Isotretinoin course")
    for time, mg in doses_mg.items():
        event = Event()
        event.add("uid", f"{course_uid}-dose-{time}@isoguard")
        event.add("summary", f"Isotretinoin {time} dose: {mg} mg")
        event.add("description", "\n".join(instructions))
        start = dt.datetime.combine(first_day, times[time], tzinfo=zone)
        event.add("dtstart", start)
        event.add("dtend", start + dt.timedelta(minutes=10))
        event.add("dtstamp", stamp)
        event.add(
            "rrule",
            {
                "freq": "daily",
                "until": dt.datetime.combine(last_day, times[time], tzinfo=zone).astimezone(dt.UTC),
            },
        )
        calendar.add_component(event)
    for number, step in enumerate(steps, start=1):
        event = Event()
        event.add("uid", f"{course_uid}-step-{number}@isoguard")
        event.add("summary", step.title)
        event.add("description", step.description)
        event.add("dtstart", step.day)
        event.add("dtend", step.day + dt.timedelta(days=1))
        event.add("dtstamp", stamp)
        calendar.add_component(event)
    return calendar.to_ical()
