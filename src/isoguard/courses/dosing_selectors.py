"""Reads for dosing: the plan in force, the diary, and the course's progress from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from isoguard.core.dosing_diary import DiaryProgress, diary_progress
from isoguard.core.knowledge.products import load_catalogue
from isoguard.core.model import DoseRecord, Weight
from isoguard.core.vocabulary import DoseTime
from isoguard.courses.models import Course, DosePlan


def dose_plan_in_force(course: Course, day: dt.date) -> DosePlan | None:
    """Return the newest plan that applies on `day`, or None before the first one."""
    return plans_by_day(course)(day)


def plans_by_day(course: Course) -> Callable[[dt.date], DosePlan | None]:
    """The course's plans read once; the returned function gives the plan in force on a day
    (the diary asks for fourteen days: one query, not fourteen)."""
    plans = list(
        DosePlan.objects.filter(course=course).order_by("-effective_from", "-set_at", "-id")
    )
    return lambda day: next((p for p in plans if p.effective_from <= day), None)


def excluded_strengths(course: Course) -> list[int]:
    """Return the strengths of the course's product that its screening excluded (allergies)."""
    screening = getattr(course, "screening", None)
    if screening is None:
        return []
    for product in screening.result.get("safe_products", []):
        if product["product"] == course.product:
            offered = {s["mg"] for s in product["strengths"]}
            return sorted(set(load_catalogue().product(course.product).strength_mgs()) - offered)
    return []


def course_progress(course: Course, as_of: dt.date) -> DiaryProgress | None:
    """Return the cumulative dose from the diary and the projected end, or None without a plan."""
    plan = dose_plan_in_force(course, as_of)
    if plan is None or course.first_dose_on is None:
        return None
    diary = tuple(
        DoseRecord(day=e.day, time=DoseTime(e.time), taken=e.taken, mg=e.dose_mg)
        for e in course.diary.filter(day__lte=as_of)
    )
    weights = tuple(
        Weight(measured_on=w.measured_on, kg=float(w.weight_kg))
        for w in course.patient.weights.order_by("measured_on", "id")
    )
    return diary_progress(
        diary=diary, weights=weights, daily_mg=plan.daily_mg, as_of=as_of,
        target_mg_per_kg=plan.target_mg_per_kg,
    )  # fmt: skip
