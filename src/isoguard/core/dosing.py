"""Dose and course planning: from weight, product, dose and target to capsules, dates and fills.

`plan_course()` turns a weight, a product, a daily dose in mg/kg (or phases of doses) and a
cumulative target into the daily dose as real capsules of that product, split into a morning and
an evening dose, the days to the target, the projected last dose, the capsules of each 30-day fill
and the cumulative curve. The label maximum (2 mg/kg/day; 1.6 for Absorica LD) is a hard limit.
Dates are always given: nothing here reads the clock.

Example: 70 kg on Claravis at 1 mg/kg/day from 2026-01-05 is 70 mg a day (30 mg in the morning,
40 mg in the evening, with meals), and reaches 120 mg/kg in 120 days (17.1 weeks), on 2026-05-04.

Sources: clinical.md 2.1 (label dosing and weight tables), 2.2 (cumulative target, rounding);
the numbers are in knowledge/products.toml and knowledge/dosing.toml.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Collection, Sequence
from fractions import Fraction

from isoguard.core.dosing_capsules import nearest_achievable_total, split_daily_total
from isoguard.core.dosing_data import load_dosing
from isoguard.core.dosing_schedule import (
    counted,
    cumulative,
    curve,
    fills,
    phase_lengths,
    planned_phases,
)
from isoguard.core.dosing_types import (
    CapsuleCount,
    CoursePlan,
    CurvePoint,
    DailyDose,
    Dose,
    DosingError,
    Fill,
    Phase,
    PlannedPhase,
    PlanWarning,
)
from isoguard.core.knowledge.loading import Status
from isoguard.core.knowledge.products import DosingFamily, ProductInfo, load_catalogue
from isoguard.core.vocabulary import DoseTime, Product

__all__ = [
    "CapsuleCount", "CoursePlan", "CurvePoint", "DailyDose", "Dose", "DosingError", "Fill",
    "Phase", "PlanWarning", "PlannedPhase", "checked_target", "checked_weight", "daily_dose",
    "default_mg_per_kg_day", "dosing_family", "first_allowed_start", "plan_course", "product_info",
]  # fmt: skip

LD_FAMILY = "absorica_ld"


def product_info(product: Product | str) -> ProductInfo:
    """Return the catalogue entry of `product`, or raise DosingError listing the known slugs."""
    try:
        return load_catalogue().product(str(product))
    except KeyError:
        known = ", ".join(p.value for p in Product)
        raise DosingError("product", f"unknown product {product!r}; known: {known}") from None


def dosing_family(product: Product | str) -> DosingFamily:
    """Return the usual range and label maximum of `product`'s dosing family."""
    return load_catalogue().family(product_info(product).dosing_family)


def default_mg_per_kg_day(product: Product | str) -> float:
    """Return the command line's default dose: the top of the product's usual range.

    1.0 mg/kg/day for conventional products and Absorica, 0.8 for Absorica LD (clinical.md 2.1;
    choosing the top of the range is this project's choice, note `default_dose` of dosing.toml).
    """
    return dosing_family(product).usual_max_mg_per_kg_day


def first_allowed_start(previous_last_dose: dt.date) -> dt.date:
    """Return the first day a new course may start: 8 weeks after the previous last dose.

    Example: a last dose on 2026-03-01 allows a second course from 2026-04-26 (Absorica label,
    clinical.md 2.1). The same count as screening's `second_course_too_soon`.
    """
    return previous_last_dose + dt.timedelta(weeks=load_dosing().value("second_course_gap_weeks"))


def checked_weight(weight_kg: float, *, field: str = "weight_kg") -> Fraction:
    """Return `weight_kg` as an exact number, or raise DosingError if outside 20 to 250 kg."""
    knowledge = load_dosing()
    low, high = knowledge.value("weight_kg_min"), knowledge.value("weight_kg_max")
    allowed = f"allowed: {_text(low)} to {_text(high)} kg"
    if not _is_number(weight_kg) or not low <= weight_kg <= high:
        raise DosingError(
            field, f"{_text(weight_kg)} kg is not a weight the planner accepts; {allowed}"
        )
    return _exact(weight_kg)


def checked_target(target_mg_per_kg: float | None) -> Fraction:
    """Return the cumulative target (default 120 mg/kg); raise DosingError outside 60 to 220."""
    knowledge = load_dosing()
    if target_mg_per_kg is None:
        return _exact(knowledge.value("target_default"))
    low, high = knowledge.value("target_min"), knowledge.value("target_max")
    if not _is_number(target_mg_per_kg) or not low <= target_mg_per_kg <= high:
        default = _text(knowledge.value("target_default"))
        raise DosingError(
            "target_mg_per_kg",
            f"{_text(target_mg_per_kg)} mg/kg is not a cumulative target the planner accepts; "
            f"allowed: {_text(low)} to {_text(high)} mg/kg (default {default})",
        )
    return _exact(target_mg_per_kg)


def daily_dose(
    *,
    weight_kg: float,
    product: Product | str,
    mg_per_kg_day: float,
    exclude_strengths: Collection[int] = (),
) -> DailyDose:
    """Return one day's dose as real capsules of `product`, in a morning and an evening dose.

    Example: 70 kg at 0.8 mg/kg/day of Absorica LD is exactly 56 mg: one 28 mg capsule twice a day.
    """
    info = product_info(product)
    weight = checked_weight(weight_kg)
    strengths, _ = _usable_strengths(info, exclude_strengths)
    return _daily(info, weight, mg_per_kg_day, strengths, field="mg_per_kg_day")


def plan_course(
    *,
    weight_kg: float,
    product: Product | str,
    start: dt.date,
    mg_per_kg_day: float | None = None,
    phases: Sequence[Phase] | None = None,
    target_mg_per_kg: float | None = None,
    previous_course_last_dose: dt.date | None = None,
    exclude_strengths: Collection[int] = (),
) -> CoursePlan:
    """Return the course plan; raise DosingError naming the field of any input it cannot use.

    Give either `mg_per_kg_day` or `phases` (for example 0.5 mg/kg/day for 28 days, then 1.0 to
    the target). `exclude_strengths` leaves out strengths the patient must not have (a screening
    can exclude, say, Absorica 25 mg for a tartrazine allergy).
    """
    info = product_info(product)
    family = load_catalogue().family(info.dosing_family)
    weight = checked_weight(weight_kg)
    target = checked_target(target_mg_per_kg)
    if not isinstance(start, dt.date):
        raise DosingError("start", f"must be a date, got {start!r}")
    if previous_course_last_dose is not None:
        earliest = first_allowed_start(previous_course_last_dose)
        if start < earliest:
            weeks = _text(load_dosing().value("second_course_gap_weeks"))
            raise DosingError(
                "start",
                f"{start.isoformat()} is too soon after the previous course (last dose "
                f"{previous_course_last_dose.isoformat()}); the first allowed start is "
                f"{earliest.isoformat()}, {weeks} weeks after it",
            )
    steps, dose_fields = _checked_phases(mg_per_kg_day, phases)
    strengths, warnings = _usable_strengths(info, exclude_strengths)
    dailies = [
        _daily(info, weight, step.mg_per_kg_day, strengths, field=field)
        for step, field in zip(steps, dose_fields, strict=True)
    ]
    lengths = phase_lengths(steps, dailies, weight, target)
    days = sum(lengths)
    if (dt.date.max - start).days < days - 1:
        raise DosingError(
            "start", f"{start.isoformat()} is too late: the course of {days} days would end "
            "after the last date the calendar has",
        )  # fmt: skip
    end = start + dt.timedelta(days=days - 1)
    planned = planned_phases(start, lengths, dailies)
    increments = [(p.days, Fraction(p.daily.mg) / weight) for p in planned]

    if not info.markets:
        unmarketed = f"{info.name} is not marketed in any country the knowledge base covers."
        warnings.append(PlanWarning("not_marketed", f"{unmarketed} {info.note}".strip()))
    for phase in planned:
        prefix = f"Phase {phase.number}: " if len(steps) > 1 else ""
        warnings.extend(_dose_warnings(phase.daily, family, float(weight), prefix))
    if len(planned) < len(steps):
        warnings.append(
            PlanWarning(
                "target_reached_early",
                f"The target is reached on day {days}, before phase {len(planned) + 1} starts; "
                "the later phases are not used.",
            )
        )
    warnings.extend(_course_warnings(days, target))
    knowledge = load_dosing()
    note_ids = ["rounding", "target_evidence"]
    if target > _exact(knowledge.value("target_usual_max")):
        note_ids.append("target_high")
    if family.slug == LD_FAMILY:
        note_ids.append("ld_target")
    return CoursePlan(
        product=info.slug,
        product_name=info.name,
        dosing_family=family,
        weight_kg=float(weight_kg),
        start=start,
        phases=planned,
        with_food=info.with_food,
        food_note=info.food_note,
        strengths_mg=strengths,
        target_mg_per_kg=float(target),
        cumulative_mg_per_kg=float(cumulative(increments, days)),
        days_to_target=days,
        end_date=end,
        next_course_earliest_start=first_allowed_start(end),
        fills=fills(start, planned, days),
        curve=curve(start, increments, days),
        how_to_take=knowledge.instructions_for(with_food=info.with_food),
        notes=tuple(knowledge.note(n) for n in note_ids),
        warnings=tuple(warnings),
    )


def _checked_phases(
    mg_per_kg_day: float | None, phases: Sequence[Phase] | None
) -> tuple[list[Phase], list[str]]:
    """Return the phases to plan and the field that names each one's dose in errors."""
    if mg_per_kg_day is not None and phases is not None:
        raise DosingError("phases", "give either mg_per_kg_day or phases, not both")
    if phases is None:
        if mg_per_kg_day is None:
            raise DosingError("mg_per_kg_day", "is required (or give phases)")
        return [Phase(mg_per_kg_day)], ["mg_per_kg_day"]
    steps = list(phases)
    if not steps:
        raise DosingError("phases", "is empty; give at least one phase")
    for index, step in enumerate(steps):
        field = f"phases[{index}]"
        if not isinstance(step, Phase):
            raise DosingError(field, f"must be a Phase, got {step!r}")
        last = index == len(steps) - 1
        if last and step.days is not None:
            raise DosingError(
                f"{field}.days", "the last phase runs until the target is reached; leave days empty"
            )
        if not last and step.days is None:
            raise DosingError(
                f"{field}.days",
                "only the last phase may run until the target; without an end this phase would "
                "overlap the phases after it",
            )
        if not last and (
            isinstance(step.days, bool) or not isinstance(step.days, int) or step.days < 1
        ):
            raise DosingError(
                f"{field}.days", f"must be a whole number of days, at least 1, got {step.days!r}"
            )
    return steps, [f"phases[{i}].mg_per_kg_day" for i in range(len(steps))]


def _usable_strengths(
    info: ProductInfo, exclude_strengths: Collection[int]
) -> tuple[tuple[int, ...], list[PlanWarning]]:
    """Return the strengths to plan with: confirmed ones, or unconfirmed if none is confirmed."""
    stray = sorted(set(exclude_strengths) - set(info.strength_mgs()))
    if stray:
        raise DosingError(
            "exclude_strengths",
            f"{info.name} has no {stray[0]} mg strength; "
            f"its strengths: {_mg_list(info.strength_mgs())}",
        )
    left = [s for s in info.strengths if s.mg not in exclude_strengths]
    if not left:
        raise DosingError("exclude_strengths", f"leaves no strength of {info.name} to plan with")
    confirmed = tuple(s.mg for s in left if s.status == Status.CONFIRMED)
    unconfirmed = tuple(s.mg for s in left if s.status != Status.CONFIRMED)
    if not confirmed:
        return unconfirmed, [
            PlanWarning(
                "unconfirmed_strengths",
                f"No strength of {info.name} is confirmed by a primary source; the plan uses the "
                f"unconfirmed {_mg_list(unconfirmed)}: check them with the pharmacy.",
            )
        ]
    skipped = []
    if unconfirmed:
        skipped.append(
            PlanWarning(
                "unconfirmed_strengths_not_used",
                f"{info.name} {_mg_list(unconfirmed)}: not confirmed by a primary source, so the "
                "plan does not use them.",
            )
        )
    return confirmed, skipped


def _daily(
    info: ProductInfo,
    weight: Fraction,
    mg_per_kg_day: float,
    strengths: tuple[int, ...],
    *,
    field: str,
) -> DailyDose:
    family = load_catalogue().family(info.dosing_family)
    label_max = family.label_max_mg_per_kg_day
    if not _is_number(mg_per_kg_day) or mg_per_kg_day <= 0:
        raise DosingError(
            field,
            f"{mg_per_kg_day!r} is not a dose; "
            f"allowed: more than 0, up to {_text(label_max)} mg/kg/day",
        )
    if mg_per_kg_day > label_max:
        raise DosingError(
            field,
            f"{_text(mg_per_kg_day)} mg/kg/day is above the label maximum of {_text(label_max)} "
            f"mg/kg/day for {info.name}; allowed: more than 0, up to {_text(label_max)}",
        )
    requested = _exact(mg_per_kg_day)
    exact = weight * requested
    ceiling = weight * _exact(label_max)
    total = nearest_achievable_total(exact, ceiling, strengths)
    if total is None:
        raise DosingError(
            "product",
            f"two doses of {info.name} {_mg_list(strengths)} are more than the label maximum of "
            f"{_text(label_max)} mg/kg/day ({_text(float(ceiling))} mg a day at "
            f"{_text(float(weight))} kg); choose a product with a smaller strength",
        )
    split = split_daily_total(total, strengths)
    return DailyDose(
        requested_mg_per_kg_day=float(requested),
        exact_mg=float(exact),
        mg=total,
        mg_per_kg_day=float(Fraction(total) / weight),
        doses=(
            Dose(DoseTime.MORNING, sum(split.morning), _counted(split.morning)),
            Dose(DoseTime.EVENING, sum(split.evening), _counted(split.evening)),
        ),
    )


def _dose_warnings(
    daily: DailyDose, family: DosingFamily, weight_kg: float, prefix: str
) -> list[PlanWarning]:
    warnings = []
    actual = _text(round(daily.mg_per_kg_day, 2))
    usual = f"{_text(family.usual_min_mg_per_kg_day)} to {_text(family.usual_max_mg_per_kg_day)}"
    percent = load_dosing().value("rounding_warning_percent")
    off_by = abs(daily.mg - daily.exact_mg) / daily.exact_mg * 100
    if off_by > percent:
        direction = "more" if daily.mg > daily.exact_mg else "less"
        warnings.append(
            PlanWarning(
                "rounded_far",
                f"{prefix}The capsules give {daily.mg} mg a day ({actual} mg/kg/day), "
                f"{round(off_by)}% {direction} than the {_text(round(daily.exact_mg, 2))} mg that "
                f"{_text(daily.requested_mg_per_kg_day)} mg/kg/day gives at {_text(weight_kg)} kg.",
            )
        )
    if daily.mg_per_kg_day > family.usual_max_mg_per_kg_day + 1e-9:
        warnings.append(
            PlanWarning(
                "above_usual_range",
                f"{prefix}{actual} mg/kg/day is above the usual {usual} mg/kg/day; the label "
                f"allows up to {_text(family.label_max_mg_per_kg_day)} for severe disease "
                "(scarring or mainly on the trunk), as tolerated.",
            )
        )
    if daily.mg_per_kg_day < family.usual_min_mg_per_kg_day - 1e-9:
        warnings.append(
            PlanWarning(
                "below_usual_range",
                f"{prefix}{actual} mg/kg/day is below the label's usual {usual} mg/kg/day "
                "(low-dose regimens are practice, not label dosing).",
            )
        )
    return warnings


def _course_warnings(days: int, target: Fraction) -> list[PlanWarning]:
    knowledge = load_dosing()
    warnings = []
    shortest = knowledge.value("course_weeks_min")
    longest = knowledge.value("course_weeks_max")
    if not shortest * 7 <= days <= longest * 7:
        warnings.append(
            PlanWarning(
                "course_length",
                f"The target is reached in {days} days ({_text(round(days / 7, 1))} weeks), "
                f"outside the label's usual course of {_text(shortest)} to {_text(longest)} weeks.",
            )
        )
    usual_low, usual_high = knowledge.value("target_default"), knowledge.value("target_usual_max")
    if not usual_low <= target <= usual_high:
        side = "below" if target < usual_low else "above"
        warnings.append(
            PlanWarning(
                f"target_{side}_usual",
                f"A target of {_text(float(target))} mg/kg is {side} the long-standing "
                f"{_text(usual_low)} to {_text(usual_high)} mg/kg (see the notes on the evidence).",
            )
        )
    return warnings


def _counted(capsules: Sequence[int]) -> tuple[CapsuleCount, ...]:
    return counted(Counter(capsules))


def _mg_list(mgs: Sequence[int]) -> str:
    return ", ".join(str(mg) for mg in mgs) + " mg"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _exact(value: float) -> Fraction:
    """Return the decimal a person typed (70.5, 0.8) exactly, not its binary approximation."""
    return Fraction(str(value))


def _text(value: float | object) -> str:
    return (
        f"{value:g}"
        if isinstance(value, int | float) and not isinstance(value, bool)
        else repr(value)
    )
