"""What every rule reads: the record, the action, and the day as the pack counts days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from isoguard.core import model
from isoguard.core.vocabulary import Action, PregnancyTestResult

E = TypeVar("E", bound=model.Event)


def add_months(day: dt.date, months: int) -> dt.date:
    """Return the same day `months` calendar months later, clamped (31 Oct + 1 month: 30 Nov)."""
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    last = (dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month + 1, min(day.day, last))


@dataclass(frozen=True)
class Context:
    """One evaluation: a course record, the action asked for, and the moment it is asked."""

    record: model.CourseRecord
    action: Action
    as_of: dt.datetime
    time_zone: str
    """The pack's time zone for counting days; "local" keeps the offset `as_of` carries."""

    @cached_property
    def today(self) -> dt.date:
        """Return the calendar day of `as_of` where the programme counts its days."""
        if self.time_zone == "local":
            return self.as_of.date()
        return self.as_of.astimezone(ZoneInfo(self.time_zone)).date()

    @cached_property
    def can_become_pregnant(self) -> bool:
        # Not yet assessed counts as able to become pregnant: the safer assumption.
        return self.record.patient.can_become_pregnant is not False

    @cached_property
    def first_dose(self) -> dt.date | None:
        return self.record.course.first_dose

    @cached_property
    def _past(self) -> dict[type, tuple[Any, ...]]:
        """The events up to today by the type asked for, filled as rules ask (a rule may look at
        one type for every stretch of a month: the record is filtered once per type)."""
        return {}

    def past(self, event_type: type[E]) -> list[E]:
        """Return the events of one type up to today, oldest first."""
        found = self._past.get(event_type)
        if found is None:
            found = self._past[event_type] = tuple(
                e for e in self.record.events_of(event_type) if e.on <= self.today
            )
        return list(found)

    @cached_property
    def tests(self) -> list[model.PregnancyTest]:
        return self.past(model.PregnancyTest)

    @cached_property
    def dispenses(self) -> list[model.Dispense]:
        return self.past(model.Dispense)

    @cached_property
    def prescription(self) -> model.Prescription | None:
        """Return the prescription this action is about: the newest one up to today."""
        prescriptions = self.past(model.Prescription)
        return prescriptions[-1] if prescriptions else None

    @cached_property
    def reference_day(self) -> dt.date:
        """The day of the visit this action belongs to: the prescription's, else today."""
        if self.action != Action.PRESCRIBE and self.prescription is not None:
            return self.prescription.date
        return self.today

    @cached_property
    def positive_tests(self) -> list[model.PregnancyTest]:
        return [t for t in self.tests if t.result == PregnancyTestResult.POSITIVE]

    @cached_property
    def blocking_positive(self) -> model.PregnancyTest | None:
        """Return a positive test that stops everything, if there is one.

        A positive test during or after treatment ends the course (a later negative test does
        not undo it: the sources give no way back); before treatment, the newest test decides,
        a positive one winning a same-day tie.
        """
        for test in self.positive_tests:
            if self.first_dose is not None and test.specimen_date >= self.first_dose:
                return test
        if self.tests:
            newest_day = self.tests[-1].specimen_date
            same_day = [t for t in self.positive_tests if t.specimen_date == newest_day]
            if same_day:
                return same_day[0]
        return None

    def this_visit_since(self, days: int) -> dt.date:
        """Return the first day that belongs to this visit: after the previous prescription,
        and within `days` of the visit (so last month's counselling is not this month's)."""
        earlier = [e.date for e in self.past(model.Prescription) if e.date < self.reference_day]
        since = self.reference_day - dt.timedelta(days=days)
        return max(since, earlier[-1] + dt.timedelta(days=1)) if earlier else since

    def is_pre_treatment(self, day: dt.date) -> bool:
        """Return whether `day` is before treatment: no first dose yet, or not after it."""
        return self.first_dose is None or day <= self.first_dose
