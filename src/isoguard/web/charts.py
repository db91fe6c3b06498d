"""The cumulative-dose picture: mg/kg taken so far, the projection, and the target, as SVG data.

Drawn on the server as plain SVG (no chart library, nothing fetched), so it works offline and
in a printed page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from isoguard.core.dosing_diary import DiaryProgress

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 32


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class CumulativeChart:
    width: int
    height: int
    taken_points: str
    """SVG polyline points of the cumulative dose actually taken."""
    projected_points: str
    """From today's cumulative dose to the target on the projected end date."""
    target_y: float
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    plot_left: int
    plot_right: int
    plot_bottom: int
    summary: str
    """The chart in words, for screen readers and the page's text."""


def cumulative_chart(progress: DiaryProgress, first_day: dt.date) -> CumulativeChart:
    """Return the chart of the course from its first dose to the projected end."""
    last_day = max(progress.projected_end, progress.as_of, first_day + dt.timedelta(days=1))
    span = (last_day - first_day).days or 1
    top_value = max(progress.target_mg_per_kg, progress.taken_mg_per_kg) * 1.08
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM

    def x(day: dt.date) -> float:
        return round(LEFT + plot_width * (day - first_day).days / span, 1)

    def y(value: float) -> float:
        return round(TOP + plot_height * (1 - value / top_value), 1)

    taken = [(x(first_day), y(0.0))] + [(x(p.date), y(p.mg_per_kg)) for p in progress.curve]
    projected = [
        (x(progress.as_of), y(progress.taken_mg_per_kg)),
        (x(progress.projected_end), y(progress.target_mg_per_kg)),
    ]
    month_starts = []
    day = first_day.replace(day=1)
    while day <= last_day:
        if day >= first_day:
            month_starts.append(day)
        day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    x_ticks = tuple(Tick(x(d), HEIGHT - 10, d.strftime("%b %Y")) for d in month_starts)
    step = 30 if top_value > 90 else 20
    y_ticks = tuple(Tick(LEFT - 6, y(v), str(v)) for v in range(0, int(top_value) + 1, step))
    summary = (
        f"{progress.taken_mg_per_kg:.1f} of {progress.target_mg_per_kg:g} mg/kg taken by "
        f"{progress.as_of.isoformat()}; projected to reach the target on "
        f"{progress.projected_end.isoformat()}."
    )
    return CumulativeChart(
        width=WIDTH, height=HEIGHT,
        taken_points=" ".join(f"{a},{b}" for a, b in taken),
        projected_points=" ".join(f"{a},{b}" for a, b in projected),
        target_y=y(progress.target_mg_per_kg), x_ticks=x_ticks, y_ticks=y_ticks,
        plot_left=LEFT, plot_right=WIDTH - RIGHT, plot_bottom=HEIGHT - BOTTOM, summary=summary,
    )  # fmt: skip
