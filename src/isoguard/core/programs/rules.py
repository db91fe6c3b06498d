"""Rule types: small classes, each one kind of programme requirement, configured by a pack.

A pack (knowledge/rules/*.toml) lists rules by type with their parameters and sources; each rule
answers with a finding (met or unmet), a message that says what is missing and how to fix it,
and, for the pregnancy-test window, the last day a dispense is allowed.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from isoguard.core import model
from isoguard.core.programs.context import Context, add_months
from isoguard.core.vocabulary import (
    Action,
    ConsentKind,
    ContraceptionMethod,
    FindingStatus,
    PregnancyTestResult,
    PregnancyTestSetting,
)

D = dt.timedelta


@dataclass(frozen=True)
class Verdict:
    """A rule's answer: met or not, why, and the last dispense day where the rule sets one."""

    met: bool
    message: str
    deadline: dt.date | None = None
    dispense_by: dt.date | None = None


def met(message: str, deadline: dt.date | None = None) -> Verdict:
    return Verdict(True, message, deadline)


def unmet(message: str, deadline: dt.date | None = None) -> Verdict:
    return Verdict(False, message, deadline)


class Rule(ABC):
    """One requirement. Subclasses name their `type`, their parameters, and `check`."""

    type_name: ClassVar[str]
    Params: ClassVar[type[Any]]

    def __init__(self, params: Any) -> None:
        self.params = params

    @abstractmethod
    def check(self, ctx: Context) -> Verdict:
        """Return whether the requirement is met for this action, today."""


@dataclass(frozen=True)
class NoParams:
    pass


def _day(day: dt.date) -> str:
    return day.isoformat()


class MinimumAge(Rule):
    """The patient is at least `years` old (the label indication)."""

    type_name = "minimum_age"

    @dataclass(frozen=True)
    class Params:
        years: int

    def check(self, ctx: Context) -> Verdict:
        age = ctx.record.patient.age_on(ctx.today)
        if age >= self.params.years:
            return met(f"The patient is {age}, at least {self.params.years}.")
        return unmet(f"The patient is {age}; isotretinoin is indicated from {self.params.years}.")


class Enrolled(Rule):
    """The patient is enrolled in the programme."""

    type_name = "enrolled"
    Params = NoParams

    def check(self, ctx: Context) -> Verdict:
        enrolled = ctx.past(model.Enrolled)
        if enrolled:
            return met(f"Enrolled on {_day(enrolled[0].on)}.")
        return unmet("The patient is not enrolled in the programme: enrol them first.")


class ConsentOnFile(Rule):
    """Each consent form of `kinds` is signed on or before today."""

    type_name = "consent_on_file"

    @dataclass(frozen=True)
    class Params:
        kinds: tuple[ConsentKind, ...]
        signed_on_or_after: dt.date | None = None
        """Only forms signed from this day count (a revised form)."""

    def check(self, ctx: Context) -> Verdict:
        since = self.params.signed_on_or_after or dt.date.min
        signed = {e.kind for e in ctx.past(model.Consent) if e.date >= since}
        missing = [k for k in self.params.kinds if k not in signed]
        names = {
            ConsentKind.INFORMED_CONSENT: "Patient Information/Informed Consent form",
            ConsentKind.PREGNANCY_PREVENTION: "pregnancy prevention consent form",
            ConsentKind.ACKNOWLEDGEMENT_OF_RISK: "Acknowledgement of Risk form",
        }
        if missing:
            listed = ", ".join(names[k] for k in missing)
            if self.params.signed_on_or_after:
                listed += f" (the version in use since {_day(since)})"
            return unmet(f"Not signed: {listed}. Record the signed form before going on.")
        return met("Signed: " + ", ".join(names[k] for k in self.params.kinds) + ".")


def held_since(ctx: Context, holds: Callable[[dt.date], bool]) -> dt.date:
    """The first day of the unbroken stretch of days up to today on which `holds`, a test of the
    contraception in use that day, was true (it is true today), at the earliest the first plan's
    start.

    Which plans are in use changes only on the day one starts or the day after one ends, so
    `holds` is asked once per stretch between those days, not once for every day (the same
    answer as walking back a day at a time: tests/core/test_programs.py).
    """
    plans = ctx.past(model.Contraception)
    first = min(e.start for e in plans)
    ends = {e.end + D(days=1) for e in plans if e.end is not None and e.end < dt.date.max}
    changes = sorted({e.start for e in plans} | ends)
    since = ctx.today
    while since > first and holds(since - D(days=1)):
        # Every day from the last change on or before the day checked is like that day.
        since = max([c for c in changes if c < since] or [first])
    return since


class Contraception(Rule):
    """Enough methods used together today (or abstinence, where accepted), long enough before."""

    type_name = "contraception"

    @dataclass(frozen=True)
    class Params:
        min_methods: int
        accept_abstinence: bool
        lead_months: int
        not_counted: tuple[ContraceptionMethod, ...] = ()

    def counted_on(self, ctx: Context, day: dt.date) -> set[ContraceptionMethod]:
        return {
            m for e in ctx.past(model.Contraception) if e.covers(day) for m in e.methods
            if m != ContraceptionMethod.ABSTINENCE and m not in self.params.not_counted
        }  # fmt: skip

    def abstinent_on(self, ctx: Context, day: dt.date) -> bool:
        return any(
            ContraceptionMethod.ABSTINENCE in e.methods and e.covers(day)
            for e in ctx.past(model.Contraception)
        )

    def check(self, ctx: Context) -> Verdict:
        p = self.params
        today = ctx.today

        def enough(day: dt.date) -> bool:
            if p.accept_abstinence and self.abstinent_on(ctx, day):
                return True
            return bool(len(self.counted_on(ctx, day)) >= p.min_methods)

        if not enough(today):
            needed = f"{p.min_methods} method(s) of contraception used together"
            if p.accept_abstinence:
                needed += ", or continuous abstinence"
            found = ", ".join(sorted(self.counted_on(ctx, today))) or "none"
            extra = ""
            if self.abstinent_on(ctx, today) and not p.accept_abstinence:
                extra = " Abstinence is not accepted in place of contraception in this programme."
            in_use = {
                m for e in ctx.past(model.Contraception) if e.covers(today) for m in e.methods
            }
            if in_use & set(p.not_counted):
                extra += " A progestin-only pill does not count as a method here."
            return unmet(f"Needed: {needed}; in use today: {found}.{extra}")
        # The first day of the unbroken stretch, up to today, in which the requirement held.
        since = held_since(ctx, enough)
        if p.accept_abstinence and self.abstinent_on(ctx, today):
            what = "continuous abstinence"
        else:
            what = ", ".join(sorted(self.counted_on(ctx, today)))
        if ctx.is_pre_treatment(today) and p.lead_months:
            reference = _confirmation_day(ctx)
            ready = add_months(since, p.lead_months)
            if ready > reference:
                return unmet(
                    f"Contraception ({what}) has been used together since {_day(since)}, less "
                    f"than {p.lead_months} month(s) before {_day(reference)}. The test (and the "
                    f"first dose) can follow on or after {_day(ready)}.",
                    deadline=ready,
                )
        return met(f"In use today: {what}, together since {_day(since)}.")


class ContraceptionEffective(Rule):
    """At least `min_effective` highly effective methods, unless `or_methods` are used together."""

    type_name = "contraception_effective"

    @dataclass(frozen=True)
    class Params:
        effective_methods: tuple[ContraceptionMethod, ...]
        min_effective: int
        or_methods: int = 0
        """This many methods of any kind together also suffice (0: never)."""
        not_counted: tuple[ContraceptionMethod, ...] = ()
        lead_months: int = 0
        accept_abstinence: bool = False
        """Abstinence meets this rule (US); elsewhere it is no method at all."""

    def methods_on(self, ctx: Context, day: dt.date) -> set[ContraceptionMethod]:
        """The methods in use that day; abstinence never counts as one of them."""
        ignored = {*self.params.not_counted, ContraceptionMethod.ABSTINENCE}
        return {
            m for e in ctx.past(model.Contraception) if e.covers(day) for m in e.methods
        } - ignored

    def abstinent_on(self, ctx: Context, day: dt.date) -> bool:
        return any(
            ContraceptionMethod.ABSTINENCE in e.methods
            for e in ctx.past(model.Contraception)
            if e.covers(day)
        )

    def enough(self, ctx: Context, day: dt.date) -> bool:
        p = self.params
        methods = self.methods_on(ctx, day)
        return bool(
            len(methods & set(p.effective_methods)) >= p.min_effective
            or (p.or_methods and len(methods) >= p.or_methods)
        )

    def check(self, ctx: Context) -> Verdict:
        p = self.params
        methods = self.methods_on(ctx, ctx.today)
        if p.accept_abstinence and self.abstinent_on(ctx, ctx.today):
            return met("Abstinence: judged by the contraception rule.")
        if self.enough(ctx, ctx.today):
            if ctx.is_pre_treatment(ctx.today) and p.lead_months:
                since = held_since(ctx, lambda day: self.enough(ctx, day))
                reference = _confirmation_day(ctx)
                ready = add_months(since, p.lead_months)
                if ready > reference:
                    return unmet(
                        f"The required kind of contraception has been in use only since "
                        f"{_day(since)}, less than {p.lead_months} month(s) before "
                        f"{_day(reference)}: the test (and first dose) can follow on or after "
                        f"{_day(ready)}.",
                        deadline=ready,
                    )
            effective = methods & set(p.effective_methods)
            if len(effective) >= p.min_effective:
                return met(f"Highly effective method in use: {', '.join(sorted(effective))}.")
            return met(f"{len(methods)} complementary methods used together.")
        listed = ", ".join(m.value for m in p.effective_methods)
        alternative = f", or {p.or_methods} complementary methods together" if p.or_methods else ""
        return unmet(
            f"At least one highly effective method ({listed}){alternative} is needed; "
            f"in use: {', '.join(sorted(methods)) or 'none'}."
        )


def _confirmation_day(ctx: Context) -> dt.date:
    """The day contraception must have preceded: the newest test, else the visit."""
    negative = [t for t in ctx.tests if t.result == PregnancyTestResult.NEGATIVE]
    return negative[-1].specimen_date if negative else ctx.reference_day


class PregnancyTestWindow(Rule):
    """US: a negative test opens a window (specimen date = day 1) for one prescription and fill.

    Before treatment the tests must be in the settings the edition allows, the confirmation test
    at least `days_after_screening` after the screening test and `days_after_enrolment` after
    enrolment, and in the 2023 edition a test after a missed first window at least
    `missed_window_wait_days` after the missed one.
    """

    type_name = "pregnancy_test_window"

    @dataclass(frozen=True)
    class Params:
        window_days: int
        screening_settings: tuple[PregnancyTestSetting, ...]
        confirmation_settings: tuple[PregnancyTestSetting, ...]
        treatment_settings: tuple[PregnancyTestSetting, ...]
        days_after_screening: int
        missed_window_wait_days: int
        days_after_enrolment: int = 0

    def check(self, ctx: Context) -> Verdict:
        p = self.params
        positive = ctx.blocking_positive
        if positive is not None:
            return unmet(
                f"The pregnancy test of {_day(positive.specimen_date)} is positive: do not "
                "prescribe or dispense. The patient stops isotretinoin and is referred."
            )
        if not ctx.tests:
            return unmet("No pregnancy test is on record: a negative test is needed first.")
        latest = ctx.tests[-1]
        last_day = latest.specimen_date + D(days=p.window_days - 1)
        used = [d for d in ctx.dispenses if latest.specimen_date <= d.date <= last_day]
        # The first dose may follow the fill that used the window, but only from that fill's
        # own supply: months later, a new test comes first.
        started_on_a_fill = (
            ctx.action == Action.START_COURSE
            and bool(used)
            and ctx.today <= used[0].date + D(days=used[0].days_supply - 1)
        )
        if ctx.today > last_day and not started_on_a_fill:
            return unmet(
                f"The window of the {_day(latest.specimen_date)} test closed on {_day(last_day)} "
                f"(day {p.window_days}, counting the specimen date as day 1). A new negative test "
                "is needed.",
                deadline=last_day,
            )
        problem = self._test_problem(ctx, latest)
        if problem:
            return unmet(problem)
        rx = ctx.prescription
        in_window = rx is not None and latest.specimen_date <= rx.date <= last_day
        if ctx.action != Action.START_COURSE and rx is not None and not in_window:
            return unmet(
                f"The prescription of {_day(rx.date)} was not written in the window of the "
                f"{_day(latest.specimen_date)} test ({_day(latest.specimen_date)} to "
                f"{_day(last_day)}): a negative test comes before every prescription. Write "
                "a new prescription in the window."
            )
        if ctx.action in (Action.DISPENSE, Action.PRESCRIBE) and used:
            return unmet(
                f"The window of the {_day(latest.specimen_date)} test was already used by the "
                f"dispense of {_day(used[0].date)}: one fill per test and prescription. The next "
                "fill needs a new test and prescription."
            )
        day = (ctx.today - latest.specimen_date).days + 1
        return Verdict(
            True,
            f"Negative {latest.setting.value} test of {_day(latest.specimen_date)}: today is day "
            f"{day} of {p.window_days}; do not dispense after {_day(last_day)}.",
            deadline=last_day,
            dispense_by=last_day,
        )

    def _test_problem(self, ctx: Context, test: model.PregnancyTest) -> str:
        p = self.params
        if not ctx.is_pre_treatment(test.specimen_date):
            if test.setting not in p.treatment_settings:
                return (
                    f"A {test.setting.value} test is not accepted during treatment in this edition."
                )
            return ""
        before = [t for t in ctx.tests if ctx.is_pre_treatment(t.specimen_date)]
        screening = before[0]
        if test is screening or len(before) < 2:
            return (
                "Only the screening test is on record: a confirmation test at least "
                f"{p.days_after_screening} days after it (on or after "
                f"{_day(screening.specimen_date + D(days=p.days_after_screening))}) is needed "
                "before the first dose."
            )
        if screening.setting not in p.screening_settings:
            return (
                f"The screening test of {_day(screening.specimen_date)} was a "
                f"{screening.setting.value} test; it must be done in a medical setting."
            )
        if test.setting not in p.confirmation_settings:
            allowed = " or ".join(s.value for s in p.confirmation_settings)
            return (
                f"A test before the first dose must be a {allowed} test; the "
                f"{_day(test.specimen_date)} test was a {test.setting.value} test. Repeat it there."
            )
        if test.specimen_date < screening.specimen_date + D(days=p.days_after_screening):
            first = screening.specimen_date + D(days=p.days_after_screening)
            return (
                f"The confirmation test must be at least {p.days_after_screening} days after "
                f"the screening test of {_day(screening.specimen_date)}: on or after "
                f"{_day(first)}."
            )
        enrolled = ctx.past(model.Enrolled)
        if p.days_after_enrolment and enrolled:
            first = enrolled[0].date + D(days=p.days_after_enrolment)
            if test.specimen_date < first:
                return (
                    f"The confirmation test must be at least {p.days_after_enrolment} days "
                    f"after enrolment ({_day(enrolled[0].date)}): on or after {_day(first)}."
                )
        if p.missed_window_wait_days:
            return self._missed_window_problem(ctx, before, test)
        return ""

    def _missed_window_problem(
        self, ctx: Context, before: list[model.PregnancyTest], test: model.PregnancyTest
    ) -> str:
        p = self.params
        for missed in reversed(before[1:-1]):
            window_end = missed.specimen_date + D(days=p.window_days - 1)
            filled = any(missed.specimen_date <= d.date <= window_end for d in ctx.dispenses)
            if window_end < test.specimen_date and not filled:
                first = missed.specimen_date + D(days=p.missed_window_wait_days)
                if test.specimen_date < first:
                    return (
                        f"The first window (test of {_day(missed.specimen_date)}) was missed, so "
                        f"the next test must be at least {p.missed_window_wait_days} days after "
                        f"it, on or after {_day(first)}; the {_day(test.specimen_date)} test "
                        "cannot open a window."
                    )
                break
        return ""


class Counselling(Rule):
    """Counselling is documented: within `days` before the visit, or once (`once_only`)."""

    type_name = "counselling"

    @dataclass(frozen=True)
    class Params:
        days: int
        once_only: bool = False

    def check(self, ctx: Context) -> Verdict:
        sessions = [e.on for e in ctx.past(model.Counselling)]
        if self.params.once_only:
            if sessions:
                return met(f"Counselled on {_day(sessions[0])} (needed once).")
            return unmet("No counselling is documented: counsel the patient and record it.")
        since = ctx.this_visit_since(self.params.days)
        recent = [d for d in sessions if since <= d <= ctx.today]
        if recent:
            return met(f"Counselled on {_day(recent[-1])}.")
        return unmet(
            f"No counselling documented since {_day(since)}: counsel the patient this "
            "month and record it."
        )


class Comprehension(Rule):
    """The patient passed the comprehension questions after the test that opens the window."""

    type_name = "comprehension"
    Params = NoParams

    def check(self, ctx: Context) -> Verdict:
        negative = [t for t in ctx.tests if t.result == PregnancyTestResult.NEGATIVE]
        since = negative[-1].specimen_date if negative else ctx.reference_day
        passed = [
            e for e in ctx.past(model.Comprehension)
            if isinstance(e, model.Comprehension) and e.passed and e.date >= since
        ]  # fmt: skip
        if passed:
            return met(f"Comprehension questions passed on {_day(passed[-1].date)}.")
        return unmet(
            f"The patient has not passed this month's comprehension questions (since "
            f"{_day(since)}): they answer them before the fill."
        )


class MedicationGuideEachFill(Rule):
    """The Medication Guide is acknowledged for this fill (after the prescription and last fill)."""

    type_name = "medication_guide_each_fill"
    Params = NoParams

    def check(self, ctx: Context) -> Verdict:
        rx = ctx.prescription
        since = rx.date if rx else ctx.today
        if ctx.dispenses:
            since = max(since, ctx.dispenses[-1].date + D(days=1))
        acks = [e.on for e in ctx.past(model.MedicationGuideAck) if e.on >= since]
        if acks:
            return met(f"Medication Guide acknowledged on {_day(acks[-1])} for this fill.")
        return unmet(
            "The Medication Guide has not been given and acknowledged for this fill: "
            "give it and record the acknowledgement."
        )


class SupplyLimit(Rule):
    """The prescription is for at most `max_days` and has at most `max_refills` refills."""

    type_name = "supply_limit"

    @dataclass(frozen=True)
    class Params:
        max_days: int
        max_refills: int

    def check(self, ctx: Context) -> Verdict:
        rx = ctx.prescription
        if rx is None:
            return unmet("No prescription is on record.")
        problems = []
        if rx.days_supply > self.params.max_days:
            problems.append(f"{rx.days_supply} days' supply (at most {self.params.max_days})")
        if rx.refills > self.params.max_refills:
            problems.append(f"{rx.refills} refill(s) (at most {self.params.max_refills})")
        if problems:
            return unmet(
                f"The prescription of {_day(rx.date)} has {' and '.join(problems)}: "
                "write a new one within the limits."
            )
        return met(f"{rx.days_supply} days' supply, {rx.refills} refills.")


class PrescriptionToFill(Rule):
    """There is a prescription for this fill, not yet dispensed."""

    type_name = "prescription_to_fill"
    Params = NoParams

    def check(self, ctx: Context) -> Verdict:
        rx = ctx.prescription
        if rx is None:
            return unmet("There is no prescription to fill.")
        filled = [d for d in ctx.dispenses if d.date >= rx.date]
        if filled:
            return unmet(
                f"The prescription of {_day(rx.date)} was already dispensed on "
                f"{_day(filled[0].date)}: no refills."
            )
        return met(f"Prescription of {_day(rx.date)}, not yet dispensed.")


class PrescriptionValidity(Rule):
    """The prescription is dispensed within `days` of its date (the visit; the date is day 1)."""

    type_name = "prescription_validity"

    @dataclass(frozen=True)
    class Params:
        days: int

    def check(self, ctx: Context) -> Verdict:
        rx = ctx.prescription
        if rx is None:
            return unmet("There is no prescription to fill.")
        last_day = rx.date + D(days=self.params.days - 1)
        if ctx.today > last_day:
            return unmet(
                f"The prescription of {_day(rx.date)} expired on {_day(last_day)} "
                f"({self.params.days} days): a new prescription is needed.",
                deadline=last_day,
            )
        return met(
            f"Prescription of {_day(rx.date)} valid until {_day(last_day)}.", deadline=last_day
        )


class TestBeforePrescription(Rule):
    """EU/UK: a negative, medically supervised test at most `max_days_before` the prescription."""

    type_name = "test_before_prescription"

    @dataclass(frozen=True)
    class Params:
        max_days_before: int
        settings: tuple[PregnancyTestSetting, ...]

    def check(self, ctx: Context) -> Verdict:
        visit = ctx.reference_day
        positive = ctx.blocking_positive
        if positive is not None:
            return unmet(
                f"The pregnancy test of {_day(positive.specimen_date)} is positive: do "
                "not prescribe or dispense; refer the patient."
            )
        earliest = visit - D(days=self.params.max_days_before)
        fitting = [
            t for t in ctx.tests
            if t.result == PregnancyTestResult.NEGATIVE and earliest <= t.specimen_date <= visit
            and t.setting in self.params.settings
        ]  # fmt: skip
        if fitting:
            return met(
                f"Negative {fitting[-1].setting.value} test on "
                f"{_day(fitting[-1].specimen_date)}, within {self.params.max_days_before} "
                f"days before the prescription of {_day(visit)}."
            )
        return unmet(
            f"No negative medically supervised test between {_day(earliest)} and "
            f"{_day(visit)} (at most {self.params.max_days_before} days before the "
            "prescription): test again, then prescribe."
        )


class MentalHealthAssessment(Rule):
    """UK: mental health (and sexual function) assessed before starting and at each follow-up."""

    type_name = "mental_health_assessment"

    @dataclass(frozen=True)
    class Params:
        days: int
        """At follow-ups, an assessment within this many days before the visit."""

    def check(self, ctx: Context) -> Verdict:
        assessed = [e.on for e in ctx.past(model.MoodAssessment)]
        started = not ctx.is_pre_treatment(ctx.today) or bool(ctx.dispenses)
        if not started:
            if assessed:
                return met(f"Mental health assessed on {_day(assessed[-1])}, before starting.")
            return unmet(
                "No mental-health assessment is recorded before starting: assess mental "
                "health and sexual function, then record it."
            )
        since = ctx.this_visit_since(self.params.days)
        recent = [d for d in assessed if since <= d <= ctx.today]
        if recent:
            return met(f"Mental health assessed at follow-up on {_day(recent[-1])}.")
        return unmet(
            f"No mental-health assessment since {_day(since)}: assess mental health and "
            "sexual function at this follow-up and record it."
        )


class CourseNotEnded(Rule):
    """No prescription, fill or start after the course's last dose: a new course starts afresh."""

    type_name = "course_not_ended"
    Params = NoParams

    def check(self, ctx: Context) -> Verdict:
        last = ctx.record.course.last_dose
        if last is not None and last <= ctx.today:
            return unmet(
                f"The course ended with its last dose on {_day(last)}. Another course "
                "starts with screening and its own pre-treatment tests."
            )
        return met("The course is under way.")


class SupplyOverlap(Rule):
    """No new fill while the previous fill still covers more than `grace_days` beyond today."""

    type_name = "supply_overlap"

    @dataclass(frozen=True)
    class Params:
        grace_days: int

    def check(self, ctx: Context) -> Verdict:
        if not ctx.dispenses:
            return met("No earlier fill.")
        last = ctx.dispenses[-1]
        covered_until = last.date + D(days=last.days_supply - 1)
        first_allowed = covered_until - D(days=self.params.grace_days - 1)
        if ctx.today < first_allowed:
            return unmet(
                f"The fill of {_day(last.date)} ({last.days_supply} days) covers until "
                f"{_day(covered_until)}: no second supply for the same days. The next fill can be "
                f"on or after {_day(first_allowed)}.",
                deadline=first_allowed,
            )
        return met(f"The previous fill ({_day(last.date)}) covers until {_day(covered_until)}.")


RULE_TYPES: dict[str, type[Rule]] = {
    cls.type_name: cls
    for cls in (
        MinimumAge, Enrolled, ConsentOnFile, Contraception, PregnancyTestWindow,
        Counselling, Comprehension, MedicationGuideEachFill, SupplyLimit, PrescriptionToFill,
        PrescriptionValidity, TestBeforePrescription, MentalHealthAssessment, CourseNotEnded,
        SupplyOverlap, ContraceptionEffective,
    )
}  # fmt: skip


def status_of(verdict: Verdict) -> FindingStatus:
    return FindingStatus.MET if verdict.met else FindingStatus.UNMET
