"""The timeline: what is due next, by when, and for whom."""

from __future__ import annotations

import dataclasses
import datetime as dt

from isoguard.core import model
from isoguard.core.programs.obligations import obligations
from isoguard.core.vocabulary import (
    Jurisdiction,
    PregnancyTestResult,
    PregnancyTestSetting,
    Product,
)

D = dt.date
NOON = dt.time(12, tzinfo=dt.timezone(dt.timedelta(hours=-5)))


def record(*events, last_dose=None, can_become_pregnant=True, jurisdiction=Jurisdiction.US):
    return model.CourseRecord(
        jurisdiction, model.PatientFacts(D(1999, 1, 1), can_become_pregnant),
        model.CourseFacts(Product.CLARAVIS, D(2026, 10, 16), last_dose), tuple(events),
    )  # fmt: skip


def due(rec, day, pack="us-ipledge-2026"):
    return {
        o.id: (o.who, o.due, o.status.value)
        for o in obligations(rec, dt.datetime.combine(day, NOON), pack=pack)
    }


def test_after_a_fill_the_next_test_and_prescription_are_due_before_the_supply_ends():
    rec = record(model.Dispense(D(2026, 10, 16), 30))
    assert due(rec, D(2026, 11, 1)) == {
        "next_pregnancy_test": ("patient", D(2026, 11, 12), "due"),
        "monthly_checklist": ("patient", D(2026, 11, 12), "due"),
        "next_prescription": ("prescriber", D(2026, 11, 15), "due"),
    }
    assert due(rec, D(2026, 11, 16))["next_prescription"][2] == "overdue"


def test_a_step_already_done_this_month_is_no_longer_due():
    rec = record(
        model.Dispense(D(2026, 10, 16), 30),
        model.PregnancyTest(
            D(2026, 11, 10), PregnancyTestResult.NEGATIVE, PregnancyTestSetting.LAB
        ),
        model.Comprehension(D(2026, 11, 10), passed=True),
        model.Prescription(D(2026, 11, 11), 30),
    )
    assert set(due(rec, D(2026, 11, 11))) == {"fill_window_closes"}
    failed = record(
        model.Dispense(D(2026, 10, 16), 30), model.Comprehension(D(2026, 11, 10), passed=False)
    )
    assert "monthly_checklist" in due(failed, D(2026, 11, 11))


def test_a_test_whose_window_closes_before_the_supply_runs_out_does_not_count():
    """The supply ends on 15 November, when the next fill is due; a 7-day window counts the
    specimen date as day 1, so a test of the 8th has closed by then and another is due."""

    def tested_on(day):
        return record(
            model.Dispense(D(2026, 10, 16), 30),
            model.PregnancyTest(day, PregnancyTestResult.NEGATIVE, PregnancyTestSetting.LAB),
        )

    assert "next_pregnancy_test" in due(tested_on(D(2026, 11, 8)), D(2026, 11, 9))
    assert "next_pregnancy_test" not in due(tested_on(D(2026, 11, 9)), D(2026, 11, 10))


def test_without_pregnancy_potential_there_is_no_monthly_test():
    rec = record(model.Dispense(D(2026, 10, 16), 30), can_become_pregnant=False)
    assert set(due(rec, D(2026, 11, 1))) == {"next_prescription"}


def test_a_waiting_prescription_shows_the_pharmacist_when_its_window_closes():
    rec = record(
        model.Dispense(D(2026, 10, 16), 30),
        model.PregnancyTest(
            D(2026, 11, 13), PregnancyTestResult.NEGATIVE, PregnancyTestSetting.LAB
        ),
        model.Prescription(D(2026, 11, 13), 30),
    )
    assert due(rec, D(2026, 11, 14))["fill_window_closes"] == ("pharmacist", D(2026, 11, 19), "due")


def test_after_the_last_dose_the_test_one_month_later_and_the_end_of_contraception():
    rec = record(model.Dispense(D(2027, 1, 10), 30), last_dose=D(2027, 2, 8))
    assert due(rec, D(2027, 2, 9)) == {
        "post_course_test": ("patient", D(2027, 3, 8), "due"),
        "contraception_continues": ("patient", D(2027, 3, 8), "due"),
    }
    tested = dataclasses.replace(
        rec,
        events=(
            *rec.events,
            model.PregnancyTest(
                D(2027, 3, 8), PregnancyTestResult.NEGATIVE, PregnancyTestSetting.HOME
            ),
        ),
    )
    assert set(due(tested, D(2027, 3, 8))) == {"contraception_continues"}
    assert due(rec, D(2027, 3, 10))["post_course_test"][2] == "overdue"


def test_the_eu_final_test_defaults_to_the_later_five_weeks():
    rec = record(last_dose=D(2027, 2, 8), jurisdiction=Jurisdiction.EU)
    assert due(rec, D(2027, 2, 9), "eu-ppp-2018")["post_course_test"][1] == D(2027, 3, 15)


def test_the_timeline_counts_a_clinics_setting_as_the_decisions_do():
    rec = record(
        model.Dispense(D(2026, 10, 16), 30),
        model.Prescription(D(2026, 11, 13), 30),
        can_become_pregnant=False,
    )
    at_noon = dt.datetime.combine(D(2026, 11, 14), NOON)
    by_default = {o.id: o.due for o in obligations(rec, at_noon, pack="us-ipledge-2026")}
    assert by_default["fill_window_closes"] == D(2026, 12, 12)  # 30 days from the visit
    shorter = obligations(
        rec, at_noon, pack="us-ipledge-2026", settings={"visit_window": {"days": 14}}
    )
    assert {o.id: o.due for o in shorter}["fill_window_closes"] == D(2026, 11, 26)
