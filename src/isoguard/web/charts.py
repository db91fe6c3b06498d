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


@dataclass(frozen=True)
class TrendLine:
    test: str
    name: str
    unit: str
    points: str
    dots: tuple[tuple[float, float, str], ...]
    """(x, y, label) of each result."""
    thresholds: tuple[tuple[float, str], ...]
    """(y, label) of each threshold line within the plot."""
    summary: str


def lab_trends(
    labs: list[tuple[str, str, str, dt.date, float]], thresholds: dict[str, list[tuple[float, str]]]
) -> tuple[TrendLine, ...]:
    """One small line chart per test: results (canonical units) over time, with its thresholds.

    `labs` are (test, name, canonical unit, date, value in canonical units).
    """
    by_test: dict[str, list[tuple[str, str, str, dt.date, float]]] = {}
    for row in sorted(labs, key=lambda r: r[3]):
        by_test.setdefault(row[0], []).append(row)
    lines = []
    plot_width = WIDTH - LEFT - RIGHT
    height = 160
    plot_height = height - TOP - BOTTOM
    for test, rows in by_test.items():
        first, last = rows[0][3], rows[-1][3]
        span = (last - first).days or 1
        limits = thresholds.get(test, [])
        top = max([r[4] for r in rows] + [v for v, _ in limits]) * 1.1 or 1.0

        def x(day: dt.date, first: dt.date = first, span: int = span) -> float:
            return round(LEFT + plot_width * (day - first).days / span, 1)

        def y(value: float, top: float = top) -> float:
            return round(TOP + plot_height * (1 - value / top), 1)

        unit = rows[0][2]
        dots = tuple((x(r[3]), y(r[4]), f"{r[3]:%Y-%m-%d}: {r[4]:g} {unit}") for r in rows)
        summary = (
            f"{rows[0][1]}: {len(rows)} results from {first:%Y-%m-%d} to {last:%Y-%m-%d}, "
            f"last {rows[-1][4]:g} {unit}."
        )
        lines.append(
            TrendLine(
                test=test,
                name=rows[0][1],
                unit=unit,
                points=" ".join(f"{a},{b}" for a, b, _ in dots),
                dots=dots,
                thresholds=tuple((y(v), label) for v, label in limits),
                summary=summary,
            )
        )
    return tuple(lines)
