"""The plain types of a dose and course plan, and the plan as JSON-ready data.

Built by `isoguard.core.dosing` (which re-exports them); read by the CLI, the API and the pages.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from isoguard.core.dosing_data import Instruction, Note
from isoguard.core.knowledge.products import DosingFamily
from isoguard.core.vocabulary import DoseTime, Product


class DosingError(ValueError):
    """Input the planner cannot use: `field` names it and the message says what is allowed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Phase:
    """A stretch of the course at one dose; the last phase (days None) runs to the target."""

    mg_per_kg_day: float
    days: int | None = None


@dataclass(frozen=True)
class CapsuleCount:
    strength_mg: int
    count: int


@dataclass(frozen=True)
class Dose:
    time: DoseTime
    mg: int
    capsules: tuple[CapsuleCount, ...]


@dataclass(frozen=True)
class DailyDose:
    """One day's dose: the weight-based figure, and the real capsules that come nearest to it."""

    requested_mg_per_kg_day: float
    exact_mg: float
    """Weight x mg/kg: the figure of the label's weight tables."""
    mg: int
    """What the capsules give: the morning and evening doses added up."""
    mg_per_kg_day: float
    """The actual dose: `mg` / weight."""
    doses: tuple[Dose, ...]

    def capsules_per_day(self) -> dict[int, int]:
        """Return the capsules taken each day, by strength in mg."""
        counts: Counter[int] = Counter()
        for dose in self.doses:
            for capsule in dose.capsules:
                counts[capsule.strength_mg] += capsule.count
        return dict(counts)


@dataclass(frozen=True)
class PlannedPhase:
    number: int
    first_day: dt.date
    last_day: dt.date
    days: int
    daily: DailyDose


@dataclass(frozen=True)
class Fill:
    """One dispense: `days` of treatment from `first_day`, as capsules of each strength."""

    number: int
    first_day: dt.date
    days: int
    capsules: tuple[CapsuleCount, ...]


@dataclass(frozen=True)
class CurvePoint:
    """The cumulative dose taken by the end of `date`, day `day` of the course (day 1 = start)."""

    day: int
    date: dt.date
    mg_per_kg: float


@dataclass(frozen=True)
class PlanWarning:
    code: str
    message: str


@dataclass(frozen=True)
class CoursePlan:
    product: Product
    product_name: str
    dosing_family: DosingFamily
    weight_kg: float
    start: dt.date
    phases: tuple[PlannedPhase, ...]
    with_food: bool
    food_note: str
    strengths_mg: tuple[int, ...]
    """The strengths the plan may use (confirmed ones, unless the product has none)."""
    target_mg_per_kg: float
    cumulative_mg_per_kg: float
    """What the whole plan gives: the target, or a little more on the last day."""
    days_to_target: int
    end_date: dt.date
    """The day of the last dose."""
    next_course_earliest_start: dt.date
    fills: tuple[Fill, ...]
    curve: tuple[CurvePoint, ...]
    how_to_take: tuple[Instruction, ...]
    notes: tuple[Note, ...]
    warnings: tuple[PlanWarning, ...]

    @property
    def daily(self) -> DailyDose:
        """Return the dose the course starts on (the first phase's)."""
        return self.phases[0].daily

    @property
    def weeks_to_target(self) -> float:
        return round(self.days_to_target / 7, 1)

    def to_dict(self) -> dict[str, object]:
        """Return the plan as JSON-ready data; the top-level dose is the first phase's."""
        family = self.dosing_family
        return {
            "product": self.product.value,
            "product_name": self.product_name,
            "dosing_family": family.slug,
            "weight_kg": _number(self.weight_kg),
            "start": self.start.isoformat(),
            **_daily_dict(self.daily),
            "with_food": self.with_food,
            "food_note": self.food_note,
            "strengths_mg": list(self.strengths_mg),
            "usual_mg_per_kg_day": {
                "min": family.usual_min_mg_per_kg_day, "max": family.usual_max_mg_per_kg_day,
            },
            "label_max_mg_per_kg_day": family.label_max_mg_per_kg_day,
            "target_mg_per_kg": _number(self.target_mg_per_kg),
            "cumulative_mg_per_kg": _number(self.cumulative_mg_per_kg),
            "days_to_target": self.days_to_target,
            "weeks_to_target": self.weeks_to_target,
            "end_date": self.end_date.isoformat(),
            "next_course_earliest_start": self.next_course_earliest_start.isoformat(),
            "phases": [
                {"number": p.number, "first_day": p.first_day.isoformat(),
                 "last_day": p.last_day.isoformat(), "days": p.days, **_daily_dict(p.daily)}
                for p in self.phases
            ],
            "fill_30_days": _capsules_dict(self.fills[0].capsules),
            "fills": [
                {"number": f.number, "first_day": f.first_day.isoformat(), "days": f.days,
                 "capsules": _capsules_dict(f.capsules)}
                for f in self.fills
            ],
            "curve": [
                {"day": p.day, "date": p.date.isoformat(), "mg_per_kg": round(p.mg_per_kg, 2)}
                for p in self.curve
            ],
            "how_to_take": [_sourced_dict(i) for i in self.how_to_take],
            "notes": [_sourced_dict(n) for n in self.notes],
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
        }  # fmt: skip


def _daily_dict(daily: DailyDose) -> dict[str, object]:
    return {
        "requested_mg_per_kg_day": _number(daily.requested_mg_per_kg_day),
        "exact_daily_mg": _number(daily.exact_mg),
        "daily_mg": daily.mg,
        "mg_per_kg_day": _number(daily.mg_per_kg_day),
        "doses": [
            {"time": d.time.value, "mg": d.mg,
             "capsules": [{"strength_mg": c.strength_mg, "count": c.count} for c in d.capsules]}
            for d in daily.doses
        ],
    }  # fmt: skip


def _capsules_dict(capsules: Sequence[CapsuleCount]) -> list[dict[str, int]]:
    return [{"strength_mg": c.strength_mg, "capsules": c.count} for c in capsules]


def _sourced_dict(item: Instruction | Note) -> dict[str, str]:
    return {
        "id": item.id,
        "message": item.message,
        "status": item.status.value,
        "source": item.source,
    }


def _number(value: float) -> float | int:
    """Return a whole number as an int and anything else rounded to 3 places, for JSON."""
    rounded = round(value, 3)
    return int(rounded) if float(rounded).is_integer() else rounded
