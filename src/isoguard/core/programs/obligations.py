"""What is due next on a course, by when, and for whom: the programme's timeline.

The timeline is read off the same record and pack as the decisions: the next test, prescription
and fill while a course runs, the window that is closing, and after the last dose the test one
month later and the end of the contraception period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from isoguard.core import model
from isoguard.core.programs.context import Context, add_months
from isoguard.core.programs.packs import Pack, PackRule, load_pack, pack_with_settings
from isoguard.core.vocabulary import Action, FindingStatus, PregnancyTestResult, RulePack

D = dt.timedelta


@dataclass(frozen=True)
class Obligation:
    id: str
    who: str
    """patient, prescriber or pharmacist"""
    what: str
    due: dt.date
    status: FindingStatus
    """due, or overdue once the day has passed"""
    source: str


def obligations(
    record: model.CourseRecord,
    as_of: dt.datetime,
    *,
    pack: RulePack | str,
    settings: Mapping[str, Mapping[str, object]] | None = None,
) -> tuple[Obligation, ...]:
    """Return what is outstanding on `as_of`, soonest first.

    `settings` are the clinic's changes to the pack's unconfirmed rules, as `evaluate` takes
    them: the timeline must count the same windows as the decisions."""
    loaded = pack_with_settings(load_pack(pack), settings or {})
    header = loaded.header
    ctx = Context(record, Action.DISPENSE, as_of, header.time_zone)
    today = ctx.today
    items: list[Obligation] = []

    def add(id_: str, who: str, what: str, due: dt.date, source: str) -> None:
        status = FindingStatus.OVERDUE if due < today else FindingStatus.DUE
        items.append(Obligation(id_, who, what, due, status, source))

    # A positive test counts unless the patient is assessed as unable to become pregnant.
    positive = ctx.blocking_positive if ctx.can_become_pregnant is not False else None
    if positive is not None:
        # Nothing else is due: no test, visit or fill. The clinic acts on the test (clinical.md
        # 3.1: stop at once and refer to an obstetrician experienced in reproductive toxicity).
        add(
            "positive_pregnancy_test",
            "prescriber",
            f"Positive pregnancy test on {positive.specimen_date.isoformat()}: isotretinoin "
            "stops; refer to an obstetrician experienced in reproductive toxicity",
            positive.specimen_date,
            "clinical.md 3.1 (boxed warning: stop immediately and refer)",
        )
        return _sorted(items)
    last_dose = record.course.last_dose
    if last_dose is not None:
        if ctx.can_become_pregnant:
            test_due = _after(
                last_dose, header.post_course_test_months, header.post_course_test_weeks
            )
            tested = [t for t in ctx.tests if t.specimen_date >= test_due - D(days=3)]
            if not tested:
                add(
                    "post_course_test",
                    "patient",
                    f"Pregnancy test after the last dose (on {test_due.isoformat()})",
                    test_due,
                    header.post_course_source,
                )
            contraception_end = add_months(last_dose, header.contraception_after_months)
            if today <= contraception_end:
                add(
                    "contraception_continues",
                    "patient",
                    f"Keep using contraception until {contraception_end.isoformat()}",
                    contraception_end,
                    header.contraception_after_source,
                )
        return _sorted(items)

    if ctx.dispenses:
        last = ctx.dispenses[-1]
        supply_ends = last.date + D(days=last.days_supply)
        # This month's test counts only if its window (as the rule engine counts it: the specimen
        # date is day 1) is still open on the day the supply runs out, when the next fill is due.
        window = _rule(loaded, "pregnancy_test_window", ctx.can_become_pregnant)
        window_days = window.rule.params.window_days if window is not None else 7
        test_due = supply_ends - D(days=3)
        month_tests = [
            t for t in ctx.tests
            if t.specimen_date > last.date
            and t.specimen_date + D(days=window_days - 1) >= supply_ends
            and t.result == PregnancyTestResult.NEGATIVE
        ]  # fmt: skip
        tested_since = bool(month_tests)
        prescribed_since = ctx.prescription is not None and ctx.prescription.date > last.date
        if ctx.can_become_pregnant and not tested_since:
            add(
                "next_pregnancy_test",
                "patient",
                "Pregnancy test before the next prescription",
                supply_ends - D(days=3),
                header.monthly_test_source,
            )
        checklist = _rule(loaded, "comprehension", ctx.can_become_pregnant)
        # The questions count when answered on or after this month's negative test (the rule).
        answered = bool(month_tests) and any(
            isinstance(e, model.Comprehension) and e.passed
            and e.date >= month_tests[-1].specimen_date
            for e in record.events
        )  # fmt: skip
        if checklist is not None and not answered:
            add(
                "monthly_checklist",
                "patient",
                "This month's checklist: the comprehension questions, before the next fill",
                test_due,
                checklist.spec.source,
            )
        if not prescribed_since:
            add(
                "next_prescription",
                "prescriber",
                "Next month's visit and prescription (the current supply runs out)",
                supply_ends,
                header.monthly_test_source,
            )
    rx = ctx.prescription
    if rx is not None and not any(d.date >= rx.date for d in ctx.dispenses):
        decision_window = _fill_deadline(ctx, rx, loaded)
        if decision_window is not None:
            add(
                "fill_window_closes",
                "pharmacist",
                f"Dispense the prescription of {rx.date.isoformat()} by "
                f"{decision_window.isoformat()}, or it expires",
                decision_window,
                header.fill_window_source,
            )
    return _sorted(items)


def _after(day: dt.date, months: int, weeks: int) -> dt.date:
    return add_months(day, months) + D(weeks=weeks)


def _fill_deadline(ctx: Context, rx: model.Prescription, pack: Pack) -> dt.date | None:
    """The last day the waiting prescription may be filled, as the pack counts it."""
    for pack_rule in pack.rules_for(ctx.can_become_pregnant):
        params = pack_rule.rule.params
        if pack_rule.spec.type == "pregnancy_test_window" and ctx.can_become_pregnant and ctx.tests:
            return ctx.tests[-1].specimen_date + D(days=params.window_days - 1)
        if pack_rule.spec.type == "prescription_validity":
            return rx.date + D(days=params.days - 1)
    return None


def _rule(pack: Pack, type_name: str, can_become_pregnant: bool | None) -> PackRule | None:
    """The pack's rule of that type that applies to this patient, if there is one."""
    return next((r for r in pack.rules_for(can_become_pregnant) if r.spec.type == type_name), None)


def _sorted(items: list[Obligation]) -> tuple[Obligation, ...]:
    return tuple(sorted(items, key=lambda o: (o.due, o.id)))
