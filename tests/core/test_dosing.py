"""The dose and course planner, and the cumulative dose from the diary (clinical.md 2.1, 2.2)."""

from __future__ import annotations

import datetime as dt
import math
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoguard.core.dosing import (
    DosingError,
    Phase,
    daily_dose,
    default_mg_per_kg_day,
    first_allowed_start,
    plan_course,
)
from isoguard.core.dosing_data import load_dosing
from isoguard.core.dosing_diary import cumulative_mg_per_kg, diary_progress, weight_on
from isoguard.core.knowledge.loading import Status
from isoguard.core.knowledge.products import load_catalogue
from isoguard.core.knowledge.screening_data import load_screening
from isoguard.core.model import DoseRecord, Weight
from isoguard.core.vocabulary import DoseTime, Product

CATALOGUE = load_catalogue()
MORNING, EVENING = DoseTime.MORNING, DoseTime.EVENING
START = dt.date(2026, 1, 5)  # a Monday; every plan below starts on it unless it says otherwise
WEIGHT = (
    70  # the worked example of clinical.md 2.2: 70 kg at 70 mg a day reaches 120 mg/kg in 120 days
)


def capsules(dose):
    return {c.strength_mg: c.count for c in dose.capsules}


def day(n):
    """Return day `n` of a course that starts on START (day 1)."""
    return START + dt.timedelta(days=n - 1)


# --- the label's weight tables ----------------------------------------------------------------

# Total daily mg by weight, clinical.md 2.1 [ABS-DOSE]: conventional at 0.5, 1 and 2 mg/kg, and
# Absorica LD at 0.4, 0.8 and 1.6 mg/kg.
LABEL_TABLE = {
    40: (20, 40, 80, 16, 32, 64),
    50: (25, 50, 100, 20, 40, 80),
    60: (30, 60, 120, 24, 48, 96),
    70: (35, 70, 140, 28, 56, 112),
    80: (40, 80, 160, 32, 64, 128),
    90: (45, 90, 180, 36, 72, 144),
    100: (50, 100, 200, 40, 80, 160),
}
CONVENTIONAL_DOSES = (0.5, 1.0, 2.0)
LD_DOSES = (0.4, 0.8, 1.6)
TABLE_CASES = [
    (product, weight, dose, row[column])
    for weight, row in LABEL_TABLE.items()
    for product, doses, first in (
        ("claravis", CONVENTIONAL_DOSES, 0),
        ("absorica", CONVENTIONAL_DOSES, 0),
        ("isotretinoin", CONVENTIONAL_DOSES, 0),
        ("absorica-ld", LD_DOSES, 3),
    )
    for column, dose in enumerate(doses, start=first)
]


@pytest.mark.parametrize(("product", "weight", "mg_per_kg_day", "table_mg"), TABLE_CASES)
def test_the_exact_daily_dose_is_the_label_weight_tables_figure(
    product, weight, mg_per_kg_day, table_mg
):
    dose = daily_dose(weight_kg=weight, product=product, mg_per_kg_day=mg_per_kg_day)
    assert dose.exact_mg == table_mg


@pytest.mark.parametrize(
    ("product", "weight", "mg_per_kg_day", "table_mg"),
    [c for c in TABLE_CASES if c[0] in ("claravis", "absorica-ld") and c[2] not in (0.5, 0.4)],
)
def test_real_capsules_give_the_tables_figure_at_the_usual_top_and_the_maximum(
    product, weight, mg_per_kg_day, table_mg
):
    dose = daily_dose(weight_kg=weight, product=product, mg_per_kg_day=mg_per_kg_day)
    assert dose.mg == table_mg
    assert dose.mg_per_kg_day == pytest.approx(mg_per_kg_day)


# --- capsule plans ----------------------------------------------------------------------------

CAPSULE_PLANS = [
    # product, kg, mg/kg/day, morning capsules, evening capsules (strength mg: count)
    ("claravis", 70, 1.0, {30: 1}, {40: 1}),  # 70 mg: the larger dose in the evening
    ("claravis", 70, 0.5, {10: 1}, {20: 1}),  # 35 mg is halfway between 30 and 40: the lower
    ("claravis", 100, 1.0, {40: 1}, {40: 1, 20: 1}),  # 40 + 60: three capsules, not four
    ("claravis", 73, 2.0, {40: 1, 30: 1}, {40: 1, 30: 1}),  # 146 mg: 140, never 150
    ("isotretinoin", 70, 0.5, {10: 1}, {25: 1}),  # generic 25 mg gives 35 exactly
    ("absorica", 60, 1.0, {30: 1}, {30: 1}),
    ("absorica-ld", 70, 0.8, {28: 1}, {28: 1}),
    ("absorica-ld", 70, 0.4, {8: 1}, {20: 1}),  # LD 20 mg, never Absorica's
    ("absorica-ld", 100, 1.6, {32: 2}, {32: 3}),  # five capsules of one strength
    ("roaccutane", 80, 1.0, {20: 2}, {20: 2}),  # only 10 and 20 mg in the EU
    ("amnesteem", 70, 1.0, {30: 1}, {30: 1}),  # only 30 mg is confirmed: 60 mg, not 70
    ("zenatane", 55, 1.0, {20: 1}, {30: 1}),  # 20 and 30 confirmed; 55 ties to 50
]


@pytest.mark.parametrize(
    ("product", "weight", "mg_per_kg_day", "morning", "evening"), CAPSULE_PLANS
)
def test_each_product_gets_the_preferred_capsules_for_its_dose(
    product, weight, mg_per_kg_day, morning, evening
):
    dose = daily_dose(weight_kg=weight, product=product, mg_per_kg_day=mg_per_kg_day)
    assert [d.time for d in dose.doses] == [MORNING, EVENING]
    assert (capsules(dose.doses[0]), capsules(dose.doses[1])) == (morning, evening)


def test_a_dose_halfway_between_two_achievable_totals_rounds_down():
    dose = daily_dose(weight_kg=70, product="claravis", mg_per_kg_day=0.5)
    assert (dose.exact_mg, dose.mg) == (35, 30)
    assert dose.mg_per_kg_day == pytest.approx(30 / 70)


def test_rounding_never_goes_above_the_label_maximum_even_when_it_is_nearer():
    # 73 kg x 2 = 146 mg; 150 is nearer but above 2 mg/kg/day, so 140.
    dose = daily_dose(weight_kg=73, product="claravis", mg_per_kg_day=2.0)
    assert dose.mg == 140


def test_a_product_without_a_confirmed_strength_uses_the_unconfirmed_ones_and_says_so():
    plan = plan_course(weight_kg=WEIGHT, product="sotret", mg_per_kg_day=1.0, start=START)
    assert plan.strengths_mg == (10, 20, 30, 40)
    warning = next(w for w in plan.warnings if w.code == "unconfirmed_strengths")
    assert "10, 20, 30, 40 mg" in warning.message


def test_unconfirmed_strengths_are_left_out_when_the_product_has_a_confirmed_one():
    plan = plan_course(weight_kg=WEIGHT, product="amnesteem", mg_per_kg_day=1.0, start=START)
    assert plan.strengths_mg == (30,)
    warning = next(w for w in plan.warnings if w.code == "unconfirmed_strengths_not_used")
    assert "10, 20, 40 mg" in warning.message
    assert "rounded_far" in {w.code for w in plan.warnings}  # 60 mg is 14% under 70


def test_a_strength_the_patient_must_not_have_is_left_out():
    # Absorica 25 mg contains tartrazine; 35 mg is otherwise 10 + 25 mg.
    usual = daily_dose(weight_kg=WEIGHT, product="absorica", mg_per_kg_day=0.5)
    without = daily_dose(
        weight_kg=WEIGHT, product="absorica", mg_per_kg_day=0.5, exclude_strengths=[25]
    )
    assert 25 in {c.strength_mg for d in usual.doses for c in d.capsules}
    assert without.mg == 30
    assert 25 not in {c.strength_mg for d in without.doses for c in d.capsules}


@pytest.mark.parametrize(
    ("mg_per_kg_day", "code"), [(1.5, "above_usual_range"), (0.3, "below_usual_range")]
)
def test_a_dose_outside_the_usual_range_is_allowed_with_a_warning(mg_per_kg_day, code):
    plan = plan_course(
        weight_kg=WEIGHT, product="claravis", mg_per_kg_day=mg_per_kg_day, start=START
    )
    assert code in {w.code for w in plan.warnings}


def test_the_command_line_default_is_the_top_of_the_usual_range():
    assert default_mg_per_kg_day("claravis") == 1.0
    assert default_mg_per_kg_day(Product.ABSORICA) == 1.0
    assert default_mg_per_kg_day("absorica-ld") == 0.8


# --- properties -------------------------------------------------------------------------------


@cache
def achievable(strengths):
    """Return every single dose up to 500 mg, and every daily total of two of them."""
    reachable = {0}
    for amount in range(1, 501):
        if any(amount - s in reachable for s in strengths):
            reachable.add(amount)
    singles = reachable - {0}
    return singles, {m + e for m in singles for e in singles}


products = st.sampled_from(list(Product))
weights = st.integers(200, 2500).map(lambda tenths: tenths / 10)
fractions_of_max = st.integers(1, 100).map(lambda percent: percent / 100)


@settings(max_examples=150, deadline=None)
@given(product=products, weight=weights, fraction=fractions_of_max)
def test_the_daily_dose_is_real_capsules_of_the_product_within_the_label_maximum(
    product, weight, fraction
):
    info = CATALOGUE.product(product)
    family = CATALOGUE.family(info.dosing_family)
    mg_per_kg_day = round(family.label_max_mg_per_kg_day * fraction, 2)
    try:
        plan = plan_course(
            weight_kg=weight, product=product, mg_per_kg_day=mg_per_kg_day, start=START
        )
    except DosingError as error:
        # only Amnesteem (30 mg alone) cannot stay under 2 mg/kg/day for the lightest patients
        assert (error.field, product) == ("product", Product.AMNESTEEM)
        assert weight * 2 < 60
        return
    dose = plan.daily
    used = {c.strength_mg for d in dose.doses for c in d.capsules}
    assert used <= set(plan.strengths_mg) <= set(info.strength_mgs())
    assert [d.time for d in dose.doses] == [MORNING, EVENING]
    assert all(d.capsules for d in dose.doses)
    assert all(d.mg == sum(c.strength_mg * c.count for c in d.capsules) for d in dose.doses)
    assert sum(d.mg for d in dose.doses) == dose.mg
    assert dose.mg <= weight * family.label_max_mg_per_kg_day + 1e-9

    singles, totals = achievable(plan.strengths_mg)
    ceiling = weight * family.label_max_mg_per_kg_day + 1e-9
    off = abs(dose.mg - dose.exact_mg)
    for total in (t for t in totals if t <= ceiling):
        assert abs(total - dose.exact_mg) >= off - 1e-9, f"{total} mg is nearer"
        if math.isclose(abs(total - dose.exact_mg), off):
            assert total >= dose.mg, f"{total} mg is as near and lower"
    # Fewest capsules first (the issue's preference): no two doses give the total in fewer.
    used_capsules = sum(c.count for d in dose.doses for c in d.capsules)
    assert used_capsules == min(
        fewest_capsules(plan.strengths_mg, m) + fewest_capsules(plan.strengths_mg, dose.mg - m)
        for m in singles
        if dose.mg - m in singles
    )


def test_absorica_ld_never_uses_another_products_strengths():
    ld = set(CATALOGUE.product("absorica-ld").strength_mgs())
    for weight in range(20, 251, 5):
        for mg_per_kg_day in (0.1, 0.4, 0.8, 1.2, 1.6):
            plan = plan_course(
                weight_kg=weight, product="absorica-ld", mg_per_kg_day=mg_per_kg_day, start=START
            )
            used = {c.strength_mg for d in plan.daily.doses for c in d.capsules}
            assert used <= ld
            assert {c.strength_mg for f in plan.fills for c in f.capsules} <= ld


@settings(max_examples=60, deadline=None)
@given(product=products, weight=weights, fraction=fractions_of_max)
def test_the_fills_hold_exactly_the_capsules_of_the_course(product, weight, fraction):
    family = CATALOGUE.family(CATALOGUE.product(product).dosing_family)
    mg_per_kg_day = round(family.label_max_mg_per_kg_day * max(fraction, 0.25), 2)
    try:
        plan = plan_course(
            weight_kg=weight, product=product, mg_per_kg_day=mg_per_kg_day, start=START
        )
    except DosingError:
        return
    per_day = plan.daily.capsules_per_day()
    in_fills: dict[int, int] = {}
    for fill in plan.fills:
        for capsule in fill.capsules:
            in_fills[capsule.strength_mg] = in_fills.get(capsule.strength_mg, 0) + capsule.count
    assert in_fills == {mg: n * plan.days_to_target for mg, n in per_day.items()}
    assert sum(f.days for f in plan.fills) == plan.days_to_target
    assert all(f.days == 30 for f in plan.fills[:-1])


# --- the course -------------------------------------------------------------------------------


def test_70_kg_on_claravis_at_1_mg_per_kg_reaches_120_mg_per_kg_in_17_weeks():
    plan = plan_course(weight_kg=WEIGHT, product="claravis", mg_per_kg_day=1.0, start=START)
    assert (plan.daily.mg, plan.daily.mg_per_kg_day) == (70, 1.0)
    assert (plan.days_to_target, plan.weeks_to_target) == (120, 17.1)
    assert plan.end_date == dt.date(2026, 5, 4)
    assert plan.with_food is True
    assert plan.warnings == ()


def test_the_projected_end_outside_15_to_20_weeks_is_a_warning():
    plan = plan_course(weight_kg=WEIGHT, product="absorica-ld", mg_per_kg_day=0.8, start=START)
    assert (plan.daily.mg, plan.days_to_target) == (56, 150)  # 21.4 weeks
    warning = next(w for w in plan.warnings if w.code == "course_length")
    assert "150 days (21.4 weeks)" in warning.message
    short = plan_course(weight_kg=WEIGHT, product="claravis", mg_per_kg_day=2.0, start=START)
    assert short.days_to_target == 60
    assert "course_length" in {w.code for w in short.warnings}


@pytest.mark.parametrize(("days", "warned"), [(104, True), (105, False), (140, False), (141, True)])
def test_the_course_length_warning_starts_outside_105_to_140_days(days, warned):
    # 70 mg a day at 70 kg is 1 mg/kg a day, so the target in mg/kg is the number of days.
    plan = plan_course(
        weight_kg=WEIGHT, product="claravis", mg_per_kg_day=1.0, target_mg_per_kg=days,
        start=START,
    )  # fmt: skip
    assert plan.days_to_target == days
    assert ("course_length" in {w.code for w in plan.warnings}) is warned


def test_the_last_day_counts_even_when_it_passes_the_target():
    # 60 mg a day at 70 kg: 120 mg/kg needs 140 days (exactly); 121 needs 142 days.
    plan = plan_course(
        weight_kg=WEIGHT, product="claravis", mg_per_kg_day=0.86, target_mg_per_kg=121,
        start=START,
    )  # fmt: skip
    assert plan.daily.mg == 60
    assert plan.days_to_target == 142
    assert plan.cumulative_mg_per_kg == pytest.approx(142 * 60 / 70)


def test_the_30_day_fill_holds_a_month_of_each_capsule():
    plan = plan_course(weight_kg=WEIGHT, product="claravis", mg_per_kg_day=1.0, start=START)
    first = plan.fills[0]
    assert (first.number, first.first_day, first.days) == (1, START, 30)
    assert {c.strength_mg: c.count for c in first.capsules} == {40: 30, 30: 30}
    assert [f.days for f in plan.fills] == [30, 30, 30, 30]


def test_the_cumulative_curve_has_a_point_a_week_and_ends_at_the_last_dose():
    plan = plan_course(weight_kg=WEIGHT, product="claravis", mg_per_kg_day=1.0, start=START)
    assert [p.day for p in plan.curve] == [*range(7, 120, 7), 120]
    assert plan.curve[0].date == day(7)
    assert plan.curve[0].mg_per_kg == 7
    assert plan.curve[-1].date == plan.end_date
    assert plan.curve[-1].mg_per_kg == 120
    values = [p.mg_per_kg for p in plan.curve]
    assert values == sorted(values)


def test_phases_start_low_then_escalate():
    # 0.5 mg/kg/day at 70 kg is 35 mg, rounded to 30 mg; 28 days of it is 12 mg/kg.
    plan = plan_course(
        weight_kg=WEIGHT, product="claravis", phases=[Phase(0.5, days=28), Phase(1.0)],
        start=START,
    )  # fmt: skip
    first, second = plan.phases
    assert (first.daily.mg, first.days, first.last_day) == (30, 28, day(28))
    assert (second.daily.mg, second.first_day, second.days) == (70, day(29), 108)
    assert plan.days_to_target == 136
    assert plan.daily == first.daily
    assert {c.strength_mg: c.count for c in plan.fills[0].capsules} == {
        40: 2, 30: 2, 20: 28, 10: 28,
    }  # fmt: skip
    assert plan.curve[3].mg_per_kg == pytest.approx(12)  # day 28


def test_a_target_reached_before_a_later_phase_leaves_it_out_with_a_warning():
    plan = plan_course(
        weight_kg=WEIGHT, product="claravis", phases=[Phase(1.0, days=100), Phase(2.0)],
        target_mg_per_kg=60, start=START,
    )  # fmt: skip
    assert len(plan.phases) == 1
    assert plan.days_to_target == 60
    assert "target_reached_early" in {w.code for w in plan.warnings}


def test_every_plan_says_how_to_take_it_for_its_food_rule():
    with_meals = plan_course(weight_kg=WEIGHT, product="claravis", mg_per_kg_day=1, start=START)
    either = plan_course(weight_kg=WEIGHT, product="absorica-ld", mg_per_kg_day=0.8, start=START)
    meal_ids = {i.id for i in with_meals.how_to_take}
    either_ids = {i.id for i in either.how_to_take}
    shared = {"two_doses", "swallow_whole", "full_glass_of_water", "do_not_lie_down",
              "missed_dose", "no_more_than_prescribed", "early_worsening"}  # fmt: skip
    assert meal_ids == shared | {"with_meals"}
    assert either_ids == shared | {"with_or_without_meals"}
    assert either.with_food is False


def test_every_plan_carries_the_rounding_convention_and_the_targets_evidence():
    plan = plan_course(weight_kg=WEIGHT, product="claravis", mg_per_kg_day=1.0, start=START)
    notes = {n.id: n for n in plan.notes}
    assert notes["rounding"].status == Status.UNCONFIRMED
    assert "Tan et al." in notes["target_evidence"].message
    high = plan_course(
        weight_kg=WEIGHT, product="claravis", mg_per_kg_day=1.0, target_mg_per_kg=220,
        start=START,
    )  # fmt: skip
    assert "target_high" in {n.id for n in high.notes}
    assert "target_above_usual" in {w.code for w in high.warnings}
    ld = plan_course(weight_kg=WEIGHT, product="absorica-ld", mg_per_kg_day=0.8, start=START)
    assert "ld_target" in {n.id for n in ld.notes}


def test_a_product_no_longer_marketed_is_planned_with_a_warning():
    plan = plan_course(weight_kg=WEIGHT, product="accutane", mg_per_kg_day=1.0, start=START)
    assert "not_marketed" in {w.code for w in plan.warnings}


def test_the_plan_as_json_has_the_fields_of_the_command_line():
    data = plan_course(
        weight_kg=WEIGHT, product="claravis", mg_per_kg_day=1.0, start=START
    ).to_dict()
    assert data["doses"] == [
        {"time": "morning", "mg": 30, "capsules": [{"strength_mg": 30, "count": 1}]},
        {"time": "evening", "mg": 40, "capsules": [{"strength_mg": 40, "count": 1}]},
    ]
    assert data["fill_30_days"] == [
        {"strength_mg": 40, "capsules": 30},
        {"strength_mg": 30, "capsules": 30},
    ]
    assert (data["daily_mg"], data["mg_per_kg_day"], data["end_date"]) == (70, 1, "2026-05-04")


# --- second course ----------------------------------------------------------------------------


def test_a_second_course_may_start_8_weeks_after_the_last_dose():
    assert first_allowed_start(dt.date(2026, 3, 1)) == dt.date(2026, 4, 26)


def test_the_plan_says_when_a_next_course_could_start():
    plan = plan_course(weight_kg=WEIGHT, product="claravis", mg_per_kg_day=1.0, start=START)
    assert plan.next_course_earliest_start == plan.end_date + dt.timedelta(weeks=8)


def test_a_second_course_planned_too_soon_is_refused_with_the_first_allowed_date():
    last = dt.date(2026, 3, 1)
    with pytest.raises(DosingError) as refused:
        plan_course(
            weight_kg=WEIGHT, product="claravis", mg_per_kg_day=1.0, start=dt.date(2026, 4, 25),
            previous_course_last_dose=last,
        )  # fmt: skip
    assert refused.value.field == "start"
    assert "2026-04-26" in refused.value.message
    allowed = plan_course(
        weight_kg=WEIGHT, product="claravis", mg_per_kg_day=1.0, start=dt.date(2026, 4, 26),
        previous_course_last_dose=last,
    )  # fmt: skip
    assert allowed.start == dt.date(2026, 4, 26)


def test_the_gap_is_the_same_8_weeks_as_screenings():
    gap = load_dosing().value("second_course_gap_weeks")
    assert gap == load_screening().rule("second_course_too_soon").weeks == 8


# --- bad input --------------------------------------------------------------------------------

GOOD = {"weight_kg": WEIGHT, "product": "claravis", "mg_per_kg_day": 1.0, "start": START}
BAD_INPUT = [
    ({"product": "roaccutan"}, "product", "unknown product 'roaccutan'; known: sotret"),
    ({"weight_kg": 19.9}, "weight_kg", "allowed: 20 to 250 kg"),
    ({"weight_kg": 250.5}, "weight_kg", "allowed: 20 to 250 kg"),
    ({"weight_kg": float("nan")}, "weight_kg", "allowed: 20 to 250 kg"),
    ({"weight_kg": True}, "weight_kg", "allowed: 20 to 250 kg"),
    ({"mg_per_kg_day": 2.01}, "mg_per_kg_day", "above the label maximum of 2 mg/kg/day"),
    ({"product": "absorica-ld", "mg_per_kg_day": 1.7}, "mg_per_kg_day", "maximum of 1.6"),
    ({"mg_per_kg_day": 0}, "mg_per_kg_day", "more than 0"),
    ({"mg_per_kg_day": None}, "mg_per_kg_day", "is required"),
    ({"target_mg_per_kg": 59}, "target_mg_per_kg", "allowed: 60 to 220 mg/kg"),
    ({"target_mg_per_kg": 221}, "target_mg_per_kg", "allowed: 60 to 220 mg/kg"),
    ({"mg_per_kg_day": None, "phases": []}, "phases", "is empty"),
    ({"phases": [Phase(1.0)]}, "phases", "not both"),
    (
        {"mg_per_kg_day": None, "phases": [Phase(0.5), Phase(1.0)]},
        "phases[0].days",
        "would overlap the phases after it",
    ),
    (
        {"mg_per_kg_day": None, "phases": [Phase(0.5, 0), Phase(1.0)]},
        "phases[0].days",
        "at least 1",
    ),
    (
        {"mg_per_kg_day": None, "phases": [Phase(0.5, 28), Phase(1.0, 30)]},
        "phases[1].days",
        "leave days empty",
    ),
    (
        {"mg_per_kg_day": None, "phases": [Phase(0.5, 28), Phase(2.5)]},
        "phases[1].mg_per_kg_day",
        "above the label maximum",
    ),
    ({"exclude_strengths": [15]}, "exclude_strengths", "no 15 mg strength"),
    ({"product": "roaccutane", "exclude_strengths": [10, 20]}, "exclude_strengths", "no strength"),
    ({"product": "amnesteem", "weight_kg": 25}, "product", "smaller strength"),
    ({"start": "2026-01-05"}, "start", "must be a date"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_INPUT)
def test_bad_input_is_refused_naming_its_field_and_what_is_allowed(change, field, message):
    with pytest.raises(DosingError) as refused:
        plan_course(**{**GOOD, **change})
    assert refused.value.field == field
    assert message in refused.value.message
    assert str(refused.value).startswith(f"{field}: ")


def test_the_label_maximum_itself_is_allowed():
    assert daily_dose(weight_kg=WEIGHT, product="claravis", mg_per_kg_day=2.0).mg == 140
    assert daily_dose(weight_kg=WEIGHT, product="absorica-ld", mg_per_kg_day=1.6).mg == 112


# --- the dose diary ---------------------------------------------------------------------------


def week_of_doses(mg=35, *, missed=()):
    """Seven days of twice-daily doses from START; `missed` lists (day, time) not taken."""
    return [
        DoseRecord(day(n), time, (day(n), time) not in missed, mg)
        for n in range(1, 8)
        for time in (MORNING, EVENING)
    ]


BASELINE = [Weight(START, 70.0)]


def test_a_missed_dose_counts_zero_and_moves_the_projected_end_by_a_day():
    complete = diary_progress(diary=week_of_doses(), weights=BASELINE, daily_mg=70, as_of=day(7))
    one_missed = diary_progress(
        diary=week_of_doses(missed={(day(3), EVENING)}), weights=BASELINE, daily_mg=70,
        as_of=day(7),
    )  # fmt: skip
    assert (complete.taken_mg_per_kg, complete.days_remaining) == (7, 113)
    assert (one_missed.taken_mg_per_kg, one_missed.days_remaining) == (6.5, 114)
    assert (one_missed.doses_taken, one_missed.doses_missed) == (13, 1)
    assert one_missed.projected_end == complete.projected_end + dt.timedelta(days=1)
    warning = next(w for w in one_missed.warnings if w.code == "doses_missed")
    assert "never doubled" in warning.message


def test_the_cumulative_dose_uses_the_weight_in_force_on_each_day():
    diary = [DoseRecord(day(1), MORNING, True, 35), DoseRecord(day(20), MORNING, True, 40)]
    weights = [Weight(START, 70.0), Weight(day(10), 80.0)]
    assert cumulative_mg_per_kg(diary, weights) == pytest.approx(35 / 70 + 40 / 80)
    assert weight_on(day(9), weights).kg == 70
    assert weight_on(day(10), weights).kg == 80


def test_the_projection_uses_the_latest_weight_and_the_current_dose():
    weights = [Weight(START, 70.0), Weight(day(7), 100.0)]
    progress = diary_progress(diary=week_of_doses(), weights=weights, daily_mg=100, as_of=day(7))
    # days 1 to 6 at 70 kg, day 7 at 100 kg; then 1 mg/kg a day
    taken = 6 * 70 / 70 + 70 / 100
    assert progress.taken_mg_per_kg == pytest.approx(taken)
    assert progress.weight_kg == 100
    assert progress.days_remaining == math.ceil(120 - taken)


def test_a_reached_target_has_no_days_remaining_and_ends_on_the_day_it_was_reached():
    diary = [
        DoseRecord(START + dt.timedelta(days=n), time, True, 35)
        for n in range(70)
        for time in (MORNING, EVENING)
    ]
    progress = diary_progress(
        diary=diary, weights=BASELINE, daily_mg=70, as_of=day(70), target_mg_per_kg=60
    )
    assert progress.reached_on == day(60)
    assert (progress.days_remaining, progress.projected_end) == (0, day(60))
    assert progress.remaining_mg_per_kg == 0


def test_days_without_a_record_count_as_not_taken_and_are_reported():
    diary = [DoseRecord(day(1), MORNING, True, 35), DoseRecord(day(4), MORNING, True, 35)]
    progress = diary_progress(diary=diary, weights=BASELINE, daily_mg=70, as_of=day(5))
    assert progress.taken_mg_per_kg == 1
    assert [p.mg_per_kg for p in progress.curve] == [0.5, 0.5, 0.5, 1, 1]
    warning = next(w for w in progress.warnings if w.code == "unrecorded_days")
    assert warning.message.startswith("3 day(s)")


def test_doses_before_the_first_weight_use_it_and_say_so():
    diary = [DoseRecord(day(1), MORNING, True, 35)]
    progress = diary_progress(
        diary=diary, weights=[Weight(day(2), 70.0)], daily_mg=70, as_of=day(2)
    )
    assert progress.taken_mg_per_kg == 0.5
    assert "dose_before_first_weight" in {w.code for w in progress.warnings}


@pytest.mark.parametrize(
    ("diary", "weights", "daily_mg", "field"),
    [
        ([DoseRecord(day(1), MORNING, True, 35)] * 2, BASELINE, 70, "diary[1]"),
        ([DoseRecord(day(9), MORNING, True, 35)], BASELINE, 70, "diary[0].day"),
        ([DoseRecord(day(1), MORNING, True, 0)], BASELINE, 70, "diary[0].mg"),
        ([], [], 70, "weights"),
        ([], [Weight(START, 300.0)], 70, "weights[0].kg"),
        ([], BASELINE, 0, "daily_mg"),
    ],
)
def test_a_diary_that_cannot_be_right_is_refused_naming_its_field(diary, weights, daily_mg, field):
    with pytest.raises(DosingError) as refused:
        diary_progress(diary=diary, weights=weights, daily_mg=daily_mg, as_of=day(7))
    assert refused.value.field == field


records = st.lists(
    st.builds(
        DoseRecord,
        day=st.integers(1, 90).map(day),
        time=st.sampled_from([MORNING, EVENING]),
        taken=st.booleans(),
        mg=st.sampled_from([8, 10, 16, 20, 28, 30, 35, 40, 60]),
    ),
    max_size=60,
    unique_by=lambda r: (r.day, r.time),
)
weight_lists = st.lists(
    st.builds(
        Weight,
        measured_on=st.integers(-10, 90).map(day),
        kg=st.integers(400, 1200).map(lambda tenths: tenths / 10),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda w: w.measured_on,
)


@settings(max_examples=150, deadline=None)
@given(diary=records, weights=weight_lists)
def test_the_cumulative_dose_is_the_sum_of_the_doses_taken_divided_by_the_weight(diary, weights):
    def in_force(on):
        earlier = [w for w in weights if w.measured_on <= on]
        if earlier:
            return max(earlier, key=lambda w: w.measured_on).kg
        return min(weights, key=lambda w: w.measured_on).kg

    expected = sum(r.mg / in_force(r.day) for r in diary if r.taken)
    assert cumulative_mg_per_kg(diary, weights) == pytest.approx(expected)
    as_of = day(90)
    progress = diary_progress(diary=diary, weights=weights, daily_mg=70, as_of=as_of)
    assert progress.taken_mg_per_kg == pytest.approx(expected)
    assert progress.doses_taken + progress.doses_missed == len(diary)
    if progress.reached_on is None:
        # the projection never doubles: one day's dose at a time, no sooner than needed
        per_day = 70 / weight_on(as_of, weights).kg
        assert progress.days_remaining == math.ceil((120 - expected) / per_day - 1e-9)


@settings(max_examples=100, deadline=None)
@given(diary=records.filter(lambda d: any(r.taken for r in d)), weights=weight_lists)
def test_marking_a_taken_dose_missed_takes_exactly_that_dose_off(diary, weights):
    taken = next(r for r in diary if r.taken)
    missed = [DoseRecord(r.day, r.time, False, r.mg) if r is taken else r for r in diary]
    difference = cumulative_mg_per_kg(diary, weights) - cumulative_mg_per_kg(missed, weights)
    assert difference == pytest.approx(taken.mg / weight_on(taken.day, weights).kg)


# --- the knowledge --------------------------------------------------------------------------


def test_every_dosing_fact_has_a_status_and_a_source():
    knowledge = load_dosing()
    for item in (*knowledge.quantities, *knowledge.notes, *knowledge.instructions):
        assert item.source.strip(), item.id
        assert item.status in set(Status)


def test_the_limits_are_the_ones_the_issue_and_the_label_give():
    value = load_dosing().value
    assert (value("weight_kg_min"), value("weight_kg_max")) == (20, 250)
    assert (value("target_min"), value("target_default"), value("target_max")) == (60, 120, 220)
    assert (value("course_weeks_min"), value("course_weeks_max")) == (15, 20)
    assert value("fill_days") == 30


def fewest_capsules(strengths, amount: int) -> int:
    """The fewest capsules of `strengths` that make `amount` (a slow, obvious oracle)."""
    best = {0: 0}
    for value in range(1, amount + 1):
        options = [best[value - s] + 1 for s in strengths if s <= value and value - s in best]
        if options:
            best[value] = min(options)
    return best[amount]
