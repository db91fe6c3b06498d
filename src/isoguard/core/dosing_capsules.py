"""Capsule arithmetic: which daily totals real capsules can give as two doses, and how.

Pure integer arithmetic over a product's strengths (mg); the planner in `dosing.py` chooses the
strengths and the limits. The convention (knowledge/dosing.toml, note `rounding`) is unconfirmed
practice, clinical.md 2.2:

- the daily total is the achievable amount nearest the weight-based figure, a tie going to the
  lower amount, never above the ceiling (the label maximum for the patient's weight);
- each of the two doses is at least one capsule;
- among the ways to give a total: the fewest capsules, then the fewest different strengths,
  then the most even split between the two doses, then the larger dose in the evening, then
  larger capsules. (100 mg of 10/20/30/40 mg capsules is 40 + 10 mg twice a day, four capsules,
  rather than 60 and 40 mg in three.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

TOTALS_COMPUTED_UP_TO = 512


@dataclass(frozen=True)
class Split:
    """A daily total as capsules: each tuple lists capsule strengths in mg, largest first."""

    morning: tuple[int, ...]
    evening: tuple[int, ...]


def nearest_achievable_total(
    exact_mg: Fraction, ceiling_mg: Fraction, strengths: Sequence[int]
) -> int | None:
    """Return the achievable daily total nearest `exact_mg`, ties to the lower, up to `ceiling_mg`.

    None when even the smallest total (two of the smallest capsule) is above the ceiling.
    Example: 35 mg with 10/20/30/40 mg capsules gives 30 (30 and 40 are equally near).
    """
    ceiling = int(ceiling_mg)  # floor: totals are whole mg
    bound = max(ceiling, TOTALS_COMPUTED_UP_TO)  # one cached table serves every weight
    totals = [t for t in _achievable_totals(_key(strengths), bound) if t <= ceiling]
    if not totals:
        return None
    return min(totals, key=lambda total: (abs(total - exact_mg), total))


def split_daily_total(total_mg: int, strengths: Sequence[int]) -> Split:
    """Return the preferred morning and evening capsules for `total_mg`.

    Example: 70 mg with 10/20/30/40 mg capsules is 30 mg in the morning and 40 mg in the evening.
    Raises ValueError if the strengths cannot give `total_mg` as two doses.
    """
    split = _best_split(_key(strengths), total_mg)
    if split is None:
        raise ValueError(f"{total_mg} mg cannot be given as two doses of {list(strengths)} mg")
    return split


def _key(strengths: Sequence[int]) -> tuple[int, ...]:
    if not strengths or any(s <= 0 for s in strengths):
        raise ValueError("strengths must be positive and there must be at least one")
    return tuple(sorted(set(strengths), reverse=True))


@cache
def _fewest_capsules(strengths: tuple[int, ...], up_to: int) -> tuple[int | None, ...]:
    """Return, for each amount 0..up_to, the fewest capsules that make it (None: impossible)."""
    fewest: list[int | None] = [0] + [None] * up_to
    for amount in range(1, up_to + 1):
        options = [
            count + 1
            for s in strengths
            if s <= amount and (count := fewest[amount - s]) is not None
        ]
        fewest[amount] = min(options, default=None)
    return tuple(fewest)


@cache
def _achievable_totals(strengths: tuple[int, ...], up_to: int) -> tuple[int, ...]:
    """Return the daily totals up to `up_to` that two doses of at least one capsule can give."""
    fewest = _fewest_capsules(strengths, max(up_to, 0))
    singles = [a for a in range(1, len(fewest)) if fewest[a] is not None]
    return tuple(sorted({m + e for m in singles for e in singles if m + e <= up_to}))


@cache
def _minimal_sets(strengths: tuple[int, ...], amount: int) -> tuple[tuple[int, ...], ...]:
    """Return every way to make `amount` with the fewest capsules, largest capsules first."""
    count = _fewest_capsules(strengths, amount)[amount]
    if count is None:
        return ()
    return tuple(_sets(strengths, amount, count, 0))


def _sets(
    strengths: tuple[int, ...], amount: int, count: int, first: int
) -> Iterator[tuple[int, ...]]:
    if count == 0:
        if amount == 0:
            yield ()
        return
    for index in range(first, len(strengths)):
        strength = strengths[index]
        # strengths are in descending order: if `count` of this one are too few, so are the rest
        if strength * count < amount:
            return
        if strength <= amount:
            for rest in _sets(strengths, amount - strength, count - 1, index):
                yield (strength, *rest)


@cache
def _best_split(strengths: tuple[int, ...], total: int) -> Split | None:
    fewest = _fewest_capsules(strengths, max(total, 0))
    candidates: list[tuple[tuple[object, ...], Split]] = []
    for morning_mg in range(1, total):
        in_morning, in_evening = fewest[morning_mg], fewest[total - morning_mg]
        if in_morning is None or in_evening is None:
            continue
        for morning in _minimal_sets(strengths, morning_mg):
            for evening in _minimal_sets(strengths, total - morning_mg):
                capsules = morning + evening
                # The order: fewest capsules, fewest strengths, then the most even split.
                preference = (
                    len(capsules),
                    len(set(capsules)),
                    abs(2 * morning_mg - total),
                    morning_mg > total - morning_mg,
                    tuple(sorted(-c for c in capsules)),
                    tuple(-c for c in morning),
                )
                candidates.append((preference, Split(morning, evening)))
    if not candidates:
        return None
    return min(candidates, key=lambda candidate: candidate[0])[1]
