"""The course over time: days in each phase, the cumulative curve, and the 30-day fills."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

from isoguard.core.dosing_data import load_dosing
from isoguard.core.dosing_types import (
    CapsuleCount,
    CurvePoint,
    DailyDose,
    Fill,
    Phase,
    PlannedPhase,
)


def phase_lengths(
    steps: Sequence[Phase], dailies: Sequence[DailyDose], weight: Fraction, target: Fraction
) -> list[int]:
    """Return the days spent in each phase until the cumulative dose reaches the target."""
    lengths: list[int] = []
    taken = Fraction(0)
    for step, daily in zip(steps, dailies, strict=True):
        per_day = Fraction(daily.mg) / weight
        needed = math.ceil((target - taken) / per_day)
        length = needed if step.days is None else min(needed, step.days)
        lengths.append(length)
        taken += length * per_day
        if taken >= target:
            break
    return lengths


def planned_phases(
    start: dt.date, lengths: Sequence[int], dailies: Sequence[DailyDose]
) -> tuple[PlannedPhase, ...]:
    """Return the phases with their dates, day 1 being `start`; unused phases are left out."""
    planned = []
    first = start
    for number, (length, daily) in enumerate(zip(lengths, dailies, strict=False), start=1):
        last = first + dt.timedelta(days=length - 1)
        planned.append(PlannedPhase(number, first, last, length, daily))
        first = last + dt.timedelta(days=1)
    return tuple(planned)


def cumulative(increments: Sequence[tuple[int, Fraction]], days: int) -> Fraction:
    """Return the mg/kg taken in the first `days` days of phases of (days, mg/kg a day)."""
    total = Fraction(0)
    for length, per_day in increments:
        used = min(length, days)
        total += used * per_day
        days -= used
        if days <= 0:
            break
    return total


def curve(
    start: dt.date, increments: Sequence[tuple[int, Fraction]], days: int
) -> tuple[CurvePoint, ...]:
    """Return the cumulative dose at the end of every 7th day, and of the last day."""
    marks = [*range(7, days, 7), days]
    return tuple(
        CurvePoint(day, start + dt.timedelta(days=day - 1), float(cumulative(increments, day)))
        for day in marks
    )


def fills(start: dt.date, planned: Sequence[PlannedPhase], days: int) -> tuple[Fill, ...]:
    """Return each fill's capsules of each strength (the last fill may be shorter)."""
    fill_days = int(load_dosing().value("fill_days"))
    planned_fills = []
    for number, offset in enumerate(range(0, days, fill_days), start=1):
        window = range(offset, min(offset + fill_days, days))
        counts: Counter[int] = Counter()
        phase_start = 0
        for phase in planned:
            overlap = len(
                range(max(window.start, phase_start), min(window.stop, phase_start + phase.days))
            )
            for strength, per_day in phase.daily.capsules_per_day().items():
                counts[strength] += overlap * per_day
            phase_start += phase.days
        first_day = start + dt.timedelta(days=offset)
        planned_fills.append(Fill(number, first_day, len(window), counted(counts)))
    return tuple(planned_fills)


def counted(counts: Counter[int]) -> tuple[CapsuleCount, ...]:
    """Return capsule counts by strength, largest strength first."""
    return tuple(CapsuleCount(mg, n) for mg, n in sorted(counts.items(), reverse=True) if n)
