"""The dose diary: the cumulative dose from what was actually taken, and the projection from it.

The cumulative dose is the sum, over the doses taken, of the dose in mg divided by the weight in
force that day (the latest weight measured on or before it). A missed dose counts 0 and is never
made up: the projected last dose moves later instead (Absorica label, clinical.md 2.1).

Example: 70 kg, 35 mg twice a day, one evening dose missed in the first week: 6.5 mg/kg after 7
days, and at 70 mg a day 114 more days to 120 mg/kg instead of 113.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from isoguard.core.dosing import (
    CurvePoint,
    DosingError,
    PlanWarning,
    checked_target,
    checked_weight,
)
from isoguard.core.model import DoseRecord, Weight


@dataclass(frozen=True)
class DiaryProgress:
    """Where a course stands on `as_of`, from the diary, and when it should reach the target."""

    as_of: dt.date
    target_mg_per_kg: float
    taken_mg_per_kg: float
    remaining_mg_per_kg: float
    doses_taken: int
    doses_missed: int
    reached_on: dt.date | None
    daily_mg: int
    """The prescribed daily dose the projection assumes from the day after `as_of`."""
    weight_kg: float
    """The weight in force on `as_of`, which the projection uses."""
    days_remaining: int
    projected_end: dt.date
    """The day of the last dose: the day the target is (or was) reached."""
    curve: tuple[CurvePoint, ...]
    """The cumulative dose at the end of each day from the first diary day to `as_of`."""
    warnings: tuple[PlanWarning, ...]

    def to_dict(self) -> dict[str, object]:
        """Return the progress as JSON-ready data."""
        return {
            "as_of": self.as_of.isoformat(),
            "target_mg_per_kg": self.target_mg_per_kg,
            "taken_mg_per_kg": round(self.taken_mg_per_kg, 3),
            "remaining_mg_per_kg": round(self.remaining_mg_per_kg, 3),
            "doses_taken": self.doses_taken,
            "doses_missed": self.doses_missed,
            "reached_on": self.reached_on.isoformat() if self.reached_on else None,
            "daily_mg": self.daily_mg,
            "weight_kg": self.weight_kg,
            "days_remaining": self.days_remaining,
            "projected_end": self.projected_end.isoformat(),
            "curve": [
                {"day": p.day, "date": p.date.isoformat(), "mg_per_kg": round(p.mg_per_kg, 2)}
                for p in self.curve
            ],
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
        }


def weight_on(day: dt.date, weights: Sequence[Weight]) -> Weight:
    """Return the weight in force on `day`: the latest measured on or before it.

    A day before the first measurement gets the first one (the baseline weight); there must be
    at least one weight.
    """
    if not weights:
        raise DosingError("weights", "at least one weight is needed")
    ordered = sorted(weights, key=lambda w: w.measured_on)
    earlier = [w for w in ordered if w.measured_on <= day]
    return earlier[-1] if earlier else ordered[0]


def cumulative_mg_per_kg(diary: Sequence[DoseRecord], weights: Sequence[Weight]) -> float:
    """Return the sum over the doses taken of mg / the weight in force that day.

    Example: 35 mg taken at 70 kg and 40 mg taken at 80 kg make 0.5 + 0.5 = 1.0 mg/kg.
    """
    _check_weights(weights)
    _check_diary(diary, as_of=None)
    return float(_taken(diary, weights))


def diary_progress(
    *,
    diary: Sequence[DoseRecord],
    weights: Sequence[Weight],
    daily_mg: int,
    as_of: dt.date,
    target_mg_per_kg: float | None = None,
) -> DiaryProgress:
    """Return the cumulative dose taken by the end of `as_of` and the projected last dose.

    The diary is read as complete up to `as_of`: a day without a record counts as not taken. The
    projection assumes `daily_mg` every day from the day after `as_of`, at the weight in force on
    `as_of`, and never a doubled dose.
    """
    target = checked_target(target_mg_per_kg)
    _check_weights(weights)
    _check_diary(diary, as_of=as_of)
    if isinstance(daily_mg, bool) or not isinstance(daily_mg, int) or daily_mg <= 0:
        raise DosingError("daily_mg", f"must be a whole number of mg above 0, got {daily_mg!r}")
    records = sorted(diary, key=lambda r: r.day)
    warnings: list[PlanWarning] = []

    curve: list[CurvePoint] = []
    taken = Fraction(0)
    reached_on = None
    if records:
        by_day: dict[dt.date, list[DoseRecord]] = {}
        for record in records:
            by_day.setdefault(record.day, []).append(record)
        first_day = records[0].day
        for offset in range((as_of - first_day).days + 1):
            day = first_day + dt.timedelta(days=offset)
            taken += _taken(by_day.get(day, []), weights)
            curve.append(CurvePoint(offset + 1, day, float(taken)))
            if reached_on is None and taken >= target:
                reached_on = day
        unrecorded = len(curve) - len(by_day)
        if unrecorded:
            warnings.append(
                PlanWarning(
                    "unrecorded_days",
                    f"{unrecorded} day(s) from {first_day.isoformat()} to {as_of.isoformat()} have "
                    "no diary record; they count as not taken.",
                )
            )
        first_weight = min(w.measured_on for w in weights)
        if first_day < first_weight:
            warnings.append(
                PlanWarning(
                    "dose_before_first_weight",
                    f"Doses before the first weight (measured {first_weight.isoformat()}) are "
                    "counted with that weight.",
                )
            )
    missed = sum(1 for r in records if not r.taken)
    if missed:
        warnings.append(
            PlanWarning(
                "doses_missed",
                f"{missed} dose(s) missed: a missed dose is skipped, never doubled; the projected "
                "end moves later instead.",
            )
        )

    weight_now = _exact(weight_on(as_of, weights).kg)
    if reached_on is not None:
        days_remaining, projected_end = 0, reached_on
    else:
        days_remaining = math.ceil((target - taken) / (Fraction(daily_mg) / weight_now))
        projected_end = as_of + dt.timedelta(days=days_remaining)
    return DiaryProgress(
        as_of=as_of,
        target_mg_per_kg=float(target),
        taken_mg_per_kg=float(taken),
        remaining_mg_per_kg=float(max(target - taken, Fraction(0))),
        doses_taken=sum(1 for r in records if r.taken),
        doses_missed=missed,
        reached_on=reached_on,
        daily_mg=daily_mg,
        weight_kg=float(weight_now),
        days_remaining=days_remaining,
        projected_end=projected_end,
        curve=tuple(curve),
        warnings=tuple(warnings),
    )


def _taken(records: Sequence[DoseRecord], weights: Sequence[Weight]) -> Fraction:
    return sum(
        (Fraction(r.mg) / _exact(weight_on(r.day, weights).kg) for r in records if r.taken),
        Fraction(0),
    )


def _check_weights(weights: Sequence[Weight]) -> None:
    if not weights:
        raise DosingError("weights", "at least one weight is needed")
    for index, weight in enumerate(weights):
        checked_weight(weight.kg, field=f"weights[{index}].kg")


def _check_diary(diary: Sequence[DoseRecord], *, as_of: dt.date | None) -> None:
    seen: set[tuple[dt.date, str]] = set()
    for index, record in enumerate(diary):
        field = f"diary[{index}]"
        if (record.day, record.time) in seen:
            raise DosingError(
                field,
                f"a second record for the {record.time.value} dose of {record.day.isoformat()}; "
                "there is one record per dose",
            )
        seen.add((record.day, record.time))
        if isinstance(record.mg, bool) or not isinstance(record.mg, int) or record.mg < 0:
            raise DosingError(f"{field}.mg", f"must be a whole number of mg, got {record.mg!r}")
        if record.taken and record.mg == 0:
            raise DosingError(f"{field}.mg", "a dose marked taken must have its mg")
        if as_of is not None and record.day > as_of:
            raise DosingError(
                f"{field}.day", f"{record.day.isoformat()} is after as_of ({as_of.isoformat()})"
            )


def _exact(value: float) -> Fraction:
    return Fraction(str(value))
