"""The window a clinical date that someone types in (or imports) must fall in.

A date such as 0001-01-01 or 9999-12-31 passes the database's checks but is absurd, and the rule
engine would place it on the course's timeline as if it were true: a consent signed two thousand
years ago still counts, a contraception plan from a distant year never starts. So every service
that takes such a date checks it here, and all of them refuse the same dates in the same words,
naming the field and what is allowed.

The window is only what cannot be true: nothing before the patient was born, nothing after today.
A date that may rightly lie ahead (a dose plan from a coming day, a contraception plan) may be up
to AHEAD_DAYS ahead. No tighter clinical limit is set here: that is for the rules.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone

AHEAD_DAYS = 365
"""How far ahead a date that may lie in the future may be: a course lasts months, so nothing of
it is planned more than a year ahead, and a later date is a typo of the year."""


def date_in_window(
    day: dt.date,
    field: str,
    *,
    born: dt.date,
    ahead: bool = False,
    after: tuple[dt.date, str] | None = None,
    later: str = "",
) -> dt.date:
    """Return `day` if it lies from the patient's birth date (`born`) to today, or to AHEAD_DAYS
    from today if `ahead`; else raise ValidationError({field: ...}) saying what is allowed.

    `after` is a later first day with what it is (the first dose, for the dose diary), when the
    service has one; the birth date still bounds it. `later` is what to do instead of a date
    after the window, when there is a better way to say it (it ends the refusal).
    """
    today = timezone.localdate()
    first, first_is = born, "the patient's birth date"
    if after is not None and after[0] > born:
        first, first_is = after
    last, last_is = today, "today"
    if ahead:
        last, last_is = today + dt.timedelta(days=AHEAD_DAYS), f"{AHEAD_DAYS} days from today"
    if not first <= day <= last:
        message = (
            f"must be between {first.isoformat()} ({first_is}) and "
            f"{last.isoformat()} ({last_is}), got {day.isoformat()}"
        )
        if day > last and later:
            message += f": {later}"
        raise ValidationError({field: message})
    return day
