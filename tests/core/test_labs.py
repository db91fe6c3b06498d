"""Laboratory monitoring: unit conversion, triglyceride thresholds, schedules, strict data."""

from __future__ import annotations

import math
from datetime import date as D
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isoguard.core import labs
from isoguard.core.knowledge.loading import KnowledgeError, Status, read_toml
from isoguard.core.labs import (
    Check,
    LabInputError,
    Level,
    canonical,
    check_result,
    convert,
    labs_due,
    load_labs,
    threshold_overrides,
)
from isoguard.core.model import CourseFacts, CourseRecord, LabResult, LastDose, PatientFacts
from isoguard.core.vocabulary import Jurisdiction, LabTest, Product

KNOWLEDGE = load_labs()
TG = LabTest.TRIGLYCERIDES
ALT = LabTest.ALT
FIRST = D(2025, 3, 1)


def course(first_dose=FIRST, *events, last_dose=None):
    return CourseRecord(
        jurisdiction=Jurisdiction.US,
        patient=PatientFacts(birth_date=D(2004, 3, 1), can_become_pregnant=False),
        course=CourseFacts(product=Product.CLARAVIS, first_dose=first_dose, last_dose=last_dose),
        events=events,
    )


def lab(test, day, value=100.0, unit="mg/dL"):
    return LabResult(test=test, value=value, unit=unit, date=day)


def due_map(items):
    return {(d.test, d.check): (d.due, d.overdue) for d in items}


# --- the data --------------------------------------------------------------------------------


def test_there_is_one_entry_per_lab_test_with_its_loinc_code():
    assert {t.id for t in KNOWLEDGE.tests} == set(LabTest)
    codes = {t.id: (t.loinc.code, t.loinc.status) for t in KNOWLEDGE.tests}
    assert codes == {
        LabTest.TRIGLYCERIDES: ("2571-8", Status.SECONDARY),
        LabTest.CHOLESTEROL_TOTAL: ("2093-3", Status.CONFIRMED),
        LabTest.LDL: ("13457-7", Status.CONFIRMED),
        LabTest.HDL: ("2085-9", Status.CONFIRMED),
        LabTest.ALT: ("1742-6", Status.CONFIRMED),
        LabTest.AST: ("1920-8", Status.CONFIRMED),
    }


def test_every_entry_has_a_source_and_a_status():
    sourced = [t.loinc for t in KNOWLEDGE.tests]
    sourced += [u for t in KNOWLEDGE.tests for u in t.units]
    sourced += list(KNOWLEDGE.thresholds)
    sourced += list(KNOWLEDGE.schedule.option) + list(KNOWLEDGE.schedule.note)
    assert len(sourced) > 20
    for item in sourced:
        assert item.source.strip(), item
        assert item.status in Status, item
    assert KNOWLEDGE.schedule.window_source.strip()
    assert KNOWLEDGE.schedule.window_status == Status.UNCONFIRMED


def test_the_thresholds_are_the_secondary_practice_thresholds_of_the_sources():
    tg = {(t.value, t.unit, t.level, t.status) for t in KNOWLEDGE.thresholds_for(TG)}
    assert tg == {
        (500, "mg/dL", Level.REVIEW, Status.SECONDARY),
        (800, "mg/dL", Level.STOP, Status.SECONDARY),
    }
    assert all("droracle.ai" in t.source for t in KNOWLEDGE.thresholds)
    for test in LabTest:
        if test != TG:
            assert KNOWLEDGE.thresholds_for(test) == (), "the sources give no number for it"


def test_values_not_seen_in_a_cited_source_are_not_marked_confirmed():
    for info in KNOWLEDGE.tests:
        for unit in info.units:
            if unit.name != info.canonical_unit:
                assert unit.status != Status.CONFIRMED, (info.id, unit.name)


def test_the_default_schedule_is_the_delphi_consensus():
    option = KNOWLEDGE.option(KNOWLEDGE.schedule.default)
    assert option.id == "baseline_and_peak"
    assert set(option.tests) == {ALT, TG}
    assert (option.baseline, option.at_peak, option.status) == (True, True, Status.CONFIRMED)
    assert "Delphi" in option.source
    assert {o.id for o in KNOWLEDGE.schedule.option} == {"baseline_and_peak", "monthly", "label"}
    assert KNOWLEDGE.option("monthly").status == Status.UNCONFIRMED


def test_an_unknown_key_in_the_file_is_an_error(monkeypatch):
    data = read_toml("labs.toml")
    data["test"][0]["unitz"] = []
    monkeypatch.setattr(labs, "read_toml", lambda name: data)
    load_labs.cache_clear()
    try:
        with pytest.raises(KnowledgeError, match="unknown key 'unitz'"):
            load_labs()
    finally:
        load_labs.cache_clear()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["threshold"][0].update(unit="g/L"), "expected mg/dL or mmol/L"),
        (lambda d: d["threshold"][0].update(test="glucose"), "is not one of"),
        (lambda d: d["threshold"][0].pop("status"), "missing key 'status'"),
        (lambda d: d["test"].pop(), "exactly the LabTest vocabulary"),
        (lambda d: d["schedule"].update(default="weekly"), "is not an option"),
        (lambda d: d.update(extra={}), "unknown table 'extra'"),
    ],
)
def test_the_loader_rejects_bad_data(monkeypatch, change, message):
    data = read_toml("labs.toml")
    change(data)
    monkeypatch.setattr(labs, "read_toml", lambda name: data)
    load_labs.cache_clear()
    try:
        with pytest.raises(KnowledgeError, match=message):
            load_labs()
    finally:
        load_labs.cache_clear()


# --- conversion ------------------------------------------------------------------------------


def test_triglycerides_convert_both_ways():
    assert convert(TG, 500, "mg/dL", "mmol/L") == pytest.approx(5.645, abs=0.001)
    assert round(convert(TG, 500, "mg/dL", "mmol/L"), 2) == 5.65
    assert convert(TG, 5.65, "mmol/L", "mg/dL") == pytest.approx(500.4, abs=0.1)
    assert convert(TG, 800, "mg/dL", "mmol/L") == pytest.approx(9.03, abs=0.01)


def test_cholesterol_converts_both_ways_with_its_own_factor():
    assert round(convert("cholesterol_total", 200, "mg/dL", "mmol/L"), 2) == 5.17
    assert convert("cholesterol_total", 5.17, "mmol/L", "mg/dL") == pytest.approx(199.9, abs=0.1)
    for test in (LabTest.LDL, LabTest.HDL):
        assert convert(test, 1, "mmol/L", "mg/dL") == pytest.approx(38.67)


def test_enzyme_units_are_the_same_unit():
    assert convert(ALT, 42, "IU/L", "U/L") == 42
    assert canonical(LabTest.AST, 30, "IU/L") == 30


def test_units_are_matched_whatever_their_case():
    assert convert(TG, 1, "MMOL/L", "mg/dl") == pytest.approx(88.57)
    assert canonical(TG, 1, " mmol/l ") == pytest.approx(88.57)


def test_canonical_is_mg_per_dl_for_lipids():
    assert canonical(TG, 5.6, "mmol/L") == pytest.approx(495.99, abs=0.01)
    assert canonical(TG, 500, "mg/dL") == 500


def test_an_unknown_unit_names_the_field_and_the_accepted_units():
    with pytest.raises(LabInputError) as caught:
        canonical(TG, 5, "g/L")
    assert caught.value.field == "unit"
    assert str(caught.value) == "unit: expected mg/dL or mmol/L for triglycerides, got 'g/L'"
    with pytest.raises(LabInputError, match="expected U/L or IU/L for alt") as caught:
        check_result(ALT, 40, "mg/dL")
    assert caught.value.field == "unit"
    with pytest.raises(LabInputError) as caught:
        convert(TG, 5, "mmol/L", "g/L")
    assert caught.value.field == "to_unit"
    with pytest.raises(LabInputError) as caught:
        convert(TG, 5, "g/L", "mmol/L")
    assert caught.value.field == "from_unit"


@pytest.mark.parametrize(
    ("test", "value", "field"),
    [
        ("glucose", 5, "test"),
        (TG, -1, "value"),
        (TG, True, "value"),
        (TG, "500", "value"),
        (TG, math.nan, "value"),
        (TG, math.inf, "value"),
    ],
)
def test_bad_input_names_its_field(test, value, field):
    with pytest.raises(LabInputError) as caught:
        check_result(test, value, "mg/dL")
    assert caught.value.field == field


@given(
    value=st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    test=st.sampled_from([TG, LabTest.CHOLESTEROL_TOTAL, LabTest.LDL, LabTest.HDL]),
)
def test_conversion_round_trips(value, test):
    there = convert(test, value, "mg/dL", "mmol/L")
    assert there <= value
    assert convert(test, there, "mmol/L", "mg/dL") == pytest.approx(value, rel=1e-12, abs=1e-12)
    assert canonical(test, there, "mmol/L") == pytest.approx(value, rel=1e-12, abs=1e-12)


# --- thresholds ------------------------------------------------------------------------------


def levels(value, unit, **kwargs):
    return [f.level for f in check_result(TG, value, unit, **kwargs)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, []),
        (150, []),
        (499, []),
        (499.99, []),
        (500, [Level.REVIEW]),
        (799, [Level.REVIEW]),
        (800, [Level.STOP, Level.REVIEW]),
        (1200, [Level.STOP, Level.REVIEW]),
    ],
)
def test_triglyceride_thresholds_at_the_boundaries_in_mg_per_dl(value, expected):
    assert levels(value, "mg/dL") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5.59, []),
        (5.6, [Level.REVIEW]),  # as the source states it, though 496 mg/dL
        (500 / 88.57, [Level.REVIEW]),
        (8.99, [Level.REVIEW]),
        (499 / 88.57, [Level.REVIEW]),  # 5.63 reaches the stated 5.6: the stricter reading
        (799 / 88.57, [Level.STOP, Level.REVIEW]),  # 9.02 reaches the stated 9
        (9.0, [Level.STOP, Level.REVIEW]),  # as the source states it ("about 9"), 797 mg/dL
        (800 / 88.57, [Level.STOP, Level.REVIEW]),
    ],
)
def test_triglyceride_thresholds_at_the_boundaries_in_mmol_per_l(value, expected):
    assert levels(value, "mmol/L") == expected


def test_a_finding_carries_the_action_the_source_and_the_canonical_value():
    (finding,) = check_result(TG, 6, "mmol/L")
    assert finding.level == Level.REVIEW
    assert finding.status == Status.SECONDARY
    assert "recheck in 1-2 weeks" in finding.action
    assert "droracle.ai" in finding.source
    assert (finding.value, finding.unit, finding.canonical_unit) == (6, "mmol/L", "mg/dL")
    assert finding.canonical_value == pytest.approx(531.42)
    stop = check_result(TG, 900, "mg/dL")[0]
    assert "pancreatitis" in stop.action and stop.level == Level.STOP


def test_alt_and_ast_have_no_threshold_by_default():
    assert check_result(ALT, 5000, "U/L") == ()
    assert check_result(LabTest.AST, 5000, "IU/L") == ()


CLINIC = {
    "triglycerides": [
        {
            "value": 400,
            "unit": "mg/dL",
            "level": "review",
            "action": "Call the patient.",
            "source": "clinic protocol",
        },
        {
            "value": 10,
            "unit": "mmol/L",
            "level": "stop",
            "action": "Stop.",
            "source": "clinic protocol (UK practice)",
        },
    ],
    "alt": [
        {
            "value": 120,
            "unit": "IU/L",
            "level": "review",
            "action": "Repeat ALT.",
            "source": "clinic protocol",
        }
    ],
}


def test_a_clinic_override_replaces_the_thresholds_of_its_tests():
    assert levels(450, "mg/dL", thresholds=CLINIC) == [Level.REVIEW]
    assert levels(399, "mg/dL", thresholds=CLINIC) == []
    assert levels(850, "mg/dL", thresholds=CLINIC) == [Level.REVIEW]  # no longer 800
    assert levels(885.7, "mg/dL", thresholds=CLINIC) == [Level.STOP, Level.REVIEW]
    assert levels(10, "mmol/L", thresholds=CLINIC) == [Level.STOP, Level.REVIEW]
    (finding,) = check_result(ALT, 120, "U/L", thresholds=CLINIC)
    assert (finding.action, finding.source, finding.status) == (
        "Repeat ALT.",
        "clinic protocol",
        None,
    )
    assert check_result(ALT, 119, "U/L", thresholds=CLINIC) == ()


def test_tests_a_clinic_leaves_out_keep_the_defaults():
    only_alt = {"alt": CLINIC["alt"]}
    assert levels(800, "mg/dL", thresholds=only_alt) == [Level.STOP, Level.REVIEW]


def _row(**changes):
    row = dict(CLINIC["alt"][0])
    row.update(changes)
    return row


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"glucose": [_row()]}, "expected one of"),
        ({"alt": []}, "non-empty list"),
        ({"alt": "120 U/L"}, "non-empty list"),
        ({"alt": [_row(unit="mg/dL")]}, "expected U/L or IU/L for alt, got 'mg/dL'"),
        ({"alt": [_row(level="panic")]}, "'panic' is not one of: review, stop"),
        ({"alt": [_row(threshold=5)]}, "unknown key 'threshold'"),
        ({"alt": [_row(source="")]}, "non-empty 'source'"),
        ({"alt": [_row(action=" ")]}, "needs an action"),
        ({"alt": [_row(value=-3)]}, "positive number"),
        ({"alt": [_row(value=True)]}, "expected float"),
        ({"alt": [_row(test="alt")]}, "unknown key 'test'"),
        ({"alt": [{k: v for k, v in _row().items() if k != "unit"}]}, "missing key 'unit'"),
    ],
)
def test_a_bad_override_is_refused_naming_the_culprit(override, message):
    with pytest.raises(KnowledgeError, match=message):
        threshold_overrides(override)
    with pytest.raises(KnowledgeError):
        check_result(ALT, 10, "U/L", thresholds=override)


# --- schedules -------------------------------------------------------------------------------


def test_baseline_is_due_before_the_first_dose():
    due = labs_due(course(FIRST), D(2025, 2, 20))
    assert due_map(due) == {
        (ALT, Check.BASELINE): (FIRST, False),
        (TG, Check.BASELINE): (FIRST, False),
    }
    assert all("Delphi" in d.source and d.status == Status.CONFIRMED for d in due)


def test_baseline_is_not_due_yet_more_than_30_days_before_the_first_dose():
    assert labs_due(course(FIRST), FIRST - timedelta(days=31)) == ()
    assert len(labs_due(course(FIRST), FIRST - timedelta(days=30))) == 2


def test_a_result_in_the_30_days_before_the_first_dose_is_the_baseline():
    record = course(FIRST, lab(ALT, D(2025, 1, 30)), lab(TG, D(2025, 1, 29)))
    # 30 and 31 days before the first dose: ALT counts, TG is too old.
    assert due_map(labs_due(record, D(2025, 2, 25))) == {(TG, Check.BASELINE): (FIRST, False)}


def test_without_a_first_dose_baseline_is_due_today_unless_tested_in_the_last_30_days():
    today = D(2025, 5, 10)
    record = course(None, lab(TG, D(2025, 4, 10)), lab(ALT, D(2025, 4, 9)))
    assert due_map(labs_due(record, today)) == {(ALT, Check.BASELINE): (today, False)}


def test_a_missed_baseline_is_overdue_once_the_course_has_started():
    due = labs_due(course(FIRST, lab(ALT, D(2025, 2, 15))), D(2025, 3, 5))
    assert due_map(due) == {(TG, Check.BASELINE): (FIRST, True)}
    late = course(FIRST, lab(ALT, D(2025, 2, 15)), lab(TG, D(2025, 3, 6)))
    assert labs_due(late, D(2025, 3, 7)) == ()


def test_peak_is_due_within_30_days_of_reaching_the_target_dose():
    baseline = (lab(ALT, D(2025, 2, 20)), lab(TG, D(2025, 2, 20)))
    record = course(FIRST, *baseline)
    peak = D(2025, 4, 1)
    assert labs_due(record, D(2025, 4, 15)) == (), "no peak date: not yet due"
    assert labs_due(record, D(2025, 3, 20), peak_started=peak) == (), "peak not reached yet"
    assert due_map(labs_due(record, D(2025, 4, 15), peak_started=peak)) == {
        (ALT, Check.PEAK): (D(2025, 5, 1), False),
        (TG, Check.PEAK): (D(2025, 5, 1), False),
    }
    assert due_map(labs_due(record, D(2025, 5, 2), peak_started=peak)) == {
        (ALT, Check.PEAK): (D(2025, 5, 1), True),
        (TG, Check.PEAK): (D(2025, 5, 1), True),
    }
    tested = course(FIRST, *baseline, lab(TG, D(2025, 4, 10)), lab(ALT, peak))
    assert labs_due(tested, D(2025, 4, 15), peak_started=peak) == ()
    before_peak = course(FIRST, *baseline, lab(TG, D(2025, 3, 31)), lab(ALT, D(2025, 3, 31)))
    assert len(labs_due(before_peak, D(2025, 4, 15), peak_started=peak)) == 2


def test_monthly_is_every_30_days_from_the_first_dose():
    baseline = (lab(ALT, D(2025, 2, 25)), lab(TG, D(2025, 2, 25)))
    record = course(FIRST, *baseline)
    assert labs_due(record, D(2025, 3, 30), schedule="monthly") == ()
    day30 = FIRST + timedelta(days=30)
    assert due_map(labs_due(record, day30, schedule="monthly")) == {
        (ALT, Check.PERIODIC): (day30, False),
        (TG, Check.PERIODIC): (day30, False),
    }
    tested = course(FIRST, *baseline, lab(ALT, D(2025, 3, 28)), lab(TG, D(2025, 4, 2)))
    assert labs_due(tested, D(2025, 4, 20), schedule="monthly") == ()
    day60 = FIRST + timedelta(days=60)
    assert due_map(labs_due(tested, day60 + timedelta(days=3), schedule="monthly")) == {
        (ALT, Check.PERIODIC): (day60, True),
        (TG, Check.PERIODIC): (day60, True),
    }
    assert "day 60" in labs_due(tested, day60, schedule="monthly")[0].reason


def test_a_periodic_check_is_met_by_a_result_from_half_an_interval_before_it():
    day30 = FIRST + timedelta(days=30)
    early = course(FIRST, lab(ALT, day30 - timedelta(days=15)), lab(TG, day30 - timedelta(days=16)))
    assert due_map(labs_due(early, day30, schedule="monthly")) == {
        (TG, Check.PERIODIC): (day30, False)
    }


def test_the_label_schedule_is_every_14_days_for_the_first_4_weeks_on_the_full_panel():
    panel = {TG, LabTest.CHOLESTEROL_TOTAL, LabTest.HDL, ALT, LabTest.AST}
    baseline = tuple(lab(t, D(2025, 2, 27)) for t in panel)
    record = course(FIRST, *baseline)
    day14, day28 = FIRST + timedelta(days=14), FIRST + timedelta(days=28)
    assert labs_due(record, day14 - timedelta(days=1), schedule="label") == ()
    due = labs_due(record, day14, schedule="label")
    assert {d.test for d in due} == panel
    assert {(d.check, d.due, d.overdue) for d in due} == {(Check.PERIODIC, day14, False)}
    at_14 = course(FIRST, *baseline, *(lab(t, day14) for t in panel))
    assert labs_due(at_14, day28 - timedelta(days=1), schedule="label") == ()
    assert {d.due for d in labs_due(at_14, day28, schedule="label")} == {day28}
    at_28 = course(
        FIRST, *baseline, *(lab(t, day14) for t in panel), *(lab(t, day28) for t in panel)
    )
    assert labs_due(at_28, day28 + timedelta(days=60), schedule="label") == ()


def test_nothing_is_due_after_the_last_dose():
    record = course(FIRST, last_dose=D(2025, 8, 1))
    assert labs_due(record, D(2025, 8, 2), schedule="monthly") == ()
    stopped = course(FIRST, LastDose(date=D(2025, 6, 1)))
    assert labs_due(stopped, D(2025, 6, 2), schedule="monthly") == ()
    assert labs_due(stopped, D(2025, 6, 1), schedule="monthly") != ()


def test_results_dated_after_today_do_not_count():
    record = course(FIRST, lab(ALT, D(2025, 2, 28)), lab(TG, D(2025, 2, 28)))
    assert len(labs_due(record, D(2025, 2, 20))) == 2


def test_an_unknown_schedule_names_the_field():
    with pytest.raises(LabInputError) as caught:
        labs_due(course(), FIRST, schedule="weekly")
    assert caught.value.field == "schedule"
    assert "baseline_and_peak, monthly, label" in str(caught.value)
