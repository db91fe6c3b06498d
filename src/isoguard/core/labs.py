"""Laboratory monitoring, from labs.toml: units, thresholds, and which tests are due.

`convert` and `canonical` change a result between the units a test accepts; `check_result` lists
the thresholds a result crosses (triglycerides only: the sources give no number for ALT or AST);
`labs_due` says which tests a course needs now under a schedule. Thresholds and the schedule are
defaults a clinic may change; the caller passes the clinic's setting in. Pure Python: no Django.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from isoguard.core.knowledge.loading import KnowledgeError, Status, entries, entry, read_toml
from isoguard.core.model import CourseRecord, LabResult, LastDose
from isoguard.core.vocabulary import LabTest

FILE = "labs.toml"


class Level(StrEnum):
    """What a crossed threshold calls for, mildest first."""

    REVIEW = "review"
    STOP = "stop"


class Check(StrEnum):
    """Why a test is due."""

    BASELINE = "baseline"
    PEAK = "peak"
    PERIODIC = "periodic"


class LabInputError(ValueError):
    """A lab result that cannot be read; `field` names the culprit (e.g. "unit")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Loinc:
    code: str
    display: str
    status: Status
    source: str


@dataclass(frozen=True)
class Unit:
    name: str
    factor: float
    """How many of the test's canonical unit one of this unit is."""
    status: Status
    source: str


@dataclass(frozen=True)
class LabTestInfo:
    id: LabTest
    name: str
    canonical_unit: str
    loinc: Loinc
    units: tuple[Unit, ...]

    def unit(self, name: str, *, field: str = "unit") -> Unit:
        """The accepted unit spelled `name` (case and spaces aside), or LabInputError."""
        wanted = "".join(str(name).split()).casefold()
        for unit in self.units:
            if unit.name.casefold() == wanted:
                return unit
        names = [u.name for u in self.units]
        expected = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        raise LabInputError(field, f"expected {expected} for {self.id}, got {name!r}")


@dataclass(frozen=True)
class Equivalent:
    """A threshold as the source also states it in another unit."""

    value: float
    unit: str


@dataclass(frozen=True)
class Threshold:
    test: LabTest
    value: float
    unit: str
    level: Level
    action: str
    source: str
    status: Status | None = None
    """The knowledge base's status; None for a clinic's own threshold."""
    also: tuple[Equivalent, ...] = ()


@dataclass(frozen=True)
class Note:
    text: str
    status: Status
    source: str


@dataclass(frozen=True)
class ScheduleOption:
    id: str
    name: str
    tests: tuple[LabTest, ...]
    baseline: bool
    at_peak: bool
    status: Status
    source: str
    every_days: int = 0
    until_day: int = 0
    """Periodic checks stop this many days into the course; 0 means at the end of the course."""


@dataclass(frozen=True)
class Schedule:
    default: str
    baseline_window_days: int
    peak_window_days: int
    window_status: Status
    window_source: str
    option: tuple[ScheduleOption, ...]
    note: tuple[Note, ...] = ()


@dataclass(frozen=True)
class LabKnowledge:
    tests: tuple[LabTestInfo, ...]
    thresholds: tuple[Threshold, ...]
    schedule: Schedule

    def test(self, test: LabTest | str) -> LabTestInfo:
        """The test's entry, or LabInputError naming the field "test"."""
        try:
            wanted = LabTest(test)
        except ValueError:
            allowed = ", ".join(str(t) for t in LabTest)
            raise LabInputError("test", f"expected one of {allowed}, got {test!r}") from None
        return next(t for t in self.tests if t.id == wanted)

    def option(self, schedule: str) -> ScheduleOption:
        """The schedule option, or LabInputError naming the field "schedule"."""
        for option in self.schedule.option:
            if option.id == schedule:
                return option
        allowed = ", ".join(o.id for o in self.schedule.option)
        raise LabInputError("schedule", f"expected one of {allowed}, got {schedule!r}")

    def thresholds_for(self, test: LabTest | str) -> tuple[Threshold, ...]:
        wanted = self.test(test).id
        return tuple(t for t in self.thresholds if t.test == wanted)


@dataclass(frozen=True)
class LabFinding:
    """One threshold a result crosses."""

    test: LabTest
    value: float
    unit: str
    canonical_value: float
    canonical_unit: str
    threshold: Threshold

    @property
    def level(self) -> Level:
        return self.threshold.level

    @property
    def action(self) -> str:
        return self.threshold.action

    @property
    def status(self) -> Status | None:
        return self.threshold.status

    @property
    def source(self) -> str:
        return self.threshold.source


@dataclass(frozen=True)
class LabDue:
    """A test the course needs: due by `due`, overdue once that day has passed."""

    test: LabTest
    check: Check
    due: dt.date
    overdue: bool
    reason: str
    status: Status
    source: str


# --- loading ---------------------------------------------------------------------------------


@cache
def load_labs() -> LabKnowledge:
    """Load and validate labs.toml (once per process)."""
    data = read_toml(FILE)
    unknown = set(data) - {"test", "threshold", "schedule"}
    if unknown:
        raise KnowledgeError(f"{FILE}: unknown table {sorted(unknown)[0]!r}")
    if not isinstance(data.get("schedule"), dict):
        raise KnowledgeError(f"{FILE}: missing the [schedule] table")
    tests = entries(data, "test", LabTestInfo, where=FILE)
    _check_tests(tests)
    thresholds = entries(data, "threshold", Threshold, where=FILE)
    for i, threshold in enumerate(thresholds):
        where = f"{FILE} [[threshold]] #{i + 1}"
        if threshold.status is None:
            raise KnowledgeError(f"{where}: missing key 'status'")
        info = next(t for t in tests if t.id == threshold.test)
        _check_threshold(info, threshold, where=where)
    schedule = entry(data["schedule"], Schedule, where=f"{FILE} [schedule]")
    _check_schedule(schedule)
    return LabKnowledge(tests=tests, thresholds=thresholds, schedule=schedule)


def _check_tests(tests: tuple[LabTestInfo, ...]) -> None:
    ids = [t.id for t in tests]
    if sorted(ids) != sorted(LabTest) or len(set(ids)) != len(ids):
        raise KnowledgeError(f"{FILE}: [[test]] must be exactly the LabTest vocabulary, once each")
    for test in tests:
        names = [u.name.casefold() for u in test.units]
        if len(set(names)) != len(names):
            raise KnowledgeError(f"{FILE}: {test.id}: a unit is listed twice")
        if any(not (math.isfinite(u.factor) and u.factor > 0) for u in test.units):
            raise KnowledgeError(f"{FILE}: {test.id}: factors must be positive numbers")
        canonical = [u for u in test.units if u.name == test.canonical_unit]
        if len(canonical) != 1 or canonical[0].factor != 1:
            raise KnowledgeError(
                f"{FILE}: {test.id}: the canonical unit {test.canonical_unit!r} must be listed "
                "with factor 1"
            )
        if not test.loinc.source.strip():
            raise KnowledgeError(f"{FILE}: {test.id}: the LOINC code needs a source")


def _check_threshold(info: LabTestInfo, threshold: Threshold, *, where: str) -> None:
    for value, unit in [(threshold.value, threshold.unit)] + [
        (e.value, e.unit) for e in threshold.also
    ]:
        if not (math.isfinite(value) and value > 0):
            raise KnowledgeError(f"{where}: value must be a positive number, got {value!r}")
        try:
            info.unit(unit)
        except LabInputError as error:
            raise KnowledgeError(f"{where}: {error}") from None
    if not threshold.action.strip():
        raise KnowledgeError(f"{where}: every threshold needs an action")


def _check_schedule(schedule: Schedule) -> None:
    where = f"{FILE} [schedule]"
    ids = [o.id for o in schedule.option]
    if len(set(ids)) != len(ids):
        raise KnowledgeError(f"{where}: option ids must be distinct")
    if schedule.default not in ids:
        raise KnowledgeError(f"{where}: default {schedule.default!r} is not an option")
    if not schedule.window_source.strip():
        raise KnowledgeError(f"{where}: the windows need a window_source")
    if schedule.baseline_window_days < 1 or schedule.peak_window_days < 1:
        raise KnowledgeError(f"{where}: windows must be at least 1 day")
    for option in schedule.option:
        if not option.tests or len(set(option.tests)) != len(option.tests):
            raise KnowledgeError(f"{where}: {option.id}: tests must be listed, once each")
        if option.every_days < 0 or option.until_day < 0:
            raise KnowledgeError(f"{where}: {option.id}: days cannot be negative")
        if option.until_day and not option.every_days:
            raise KnowledgeError(f"{where}: {option.id}: until_day needs every_days")


def threshold_overrides(
    overrides: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[LabTest, tuple[Threshold, ...]]:
    """Validate a clinic's thresholds as strictly as the file; KnowledgeError names the culprit.

    The mapping is test id to a list of tables with the keys value, unit, level, action, source
    (and optionally status, also). A test's list replaces the file's list for that test.
    """
    knowledge = load_labs()
    if not isinstance(overrides, Mapping):
        raise KnowledgeError(
            f"lab thresholds: expected a mapping of test to list, got {overrides!r}"
        )
    result: dict[LabTest, tuple[Threshold, ...]] = {}
    for key, rows in overrides.items():
        where = f"lab thresholds {key!r}"
        try:
            test = knowledge.test(key).id
        except LabInputError as error:
            raise KnowledgeError(f"{where}: {error.message}") from None
        if isinstance(rows, str | bytes) or not isinstance(rows, Sequence) or not rows:
            raise KnowledgeError(
                f"{where}: expected a non-empty list of thresholds (leave the test out to keep "
                "the defaults)"
            )
        parsed = []
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise KnowledgeError(f"{where} #{i + 1}: expected a table, got {row!r}")
            if "test" in row:
                raise KnowledgeError(f"{where} #{i + 1}: unknown key 'test' (the key names it)")
            threshold = entry({**row, "test": str(test)}, Threshold, where=f"{where} #{i + 1}")
            _check_threshold(knowledge.test(test), threshold, where=f"{where} #{i + 1}")
            parsed.append(threshold)
        result[test] = tuple(parsed)
    return result


# --- units and thresholds --------------------------------------------------------------------


def _number(value: Any, *, field: str = "value") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LabInputError(field, f"expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise LabInputError(field, f"expected a number of 0 or more, got {value!r}")
    return number


def convert(test: LabTest | str, value: float, from_unit: str, to_unit: str) -> float:
    """Return `value` of `test` in `from_unit` expressed in `to_unit`.

    LabInputError names the field: "test", "value", "from_unit" or "to_unit".
    """
    info = load_labs().test(test)
    number = _number(value)
    source = info.unit(from_unit, field="from_unit")
    target = info.unit(to_unit, field="to_unit")
    if source is target:
        return number
    return number * source.factor / target.factor


def canonical(test: LabTest | str, value: float, unit: str) -> float:
    """Return `value` in the test's canonical unit (mg/dL for lipids, U/L for ALT and AST)."""
    info = load_labs().test(test)
    number = _number(value)
    return number * info.unit(unit).factor


def check_result(
    test: LabTest | str,
    value: float,
    unit: str,
    *,
    thresholds: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> tuple[LabFinding, ...]:
    """Every threshold the result reaches, the most serious first.

    A result crosses a threshold when, in canonical units, it is at or above the threshold's value;
    or when it is reported in a unit in which the threshold is also stated and reaches that stated
    value. `thresholds` is the clinic's setting (see `threshold_overrides`).
    """
    knowledge = load_labs()
    info = knowledge.test(test)
    number = _number(value)
    reported = info.unit(unit)
    in_canonical = number * reported.factor
    chosen = threshold_overrides(thresholds or {}).get(info.id) or knowledge.thresholds_for(info.id)
    findings = [
        LabFinding(info.id, number, reported.name, in_canonical, info.canonical_unit, threshold)
        for threshold in chosen
        if _reaches(info, number, reported, in_canonical, threshold)
    ]
    order = list(Level)
    findings.sort(key=lambda f: (order.index(f.level), f.threshold.value), reverse=True)
    return tuple(findings)


def _reaches(
    info: LabTestInfo, number: float, reported: Unit, in_canonical: float, threshold: Threshold
) -> bool:
    limit = threshold.value * info.unit(threshold.unit).factor
    if in_canonical >= limit or math.isclose(in_canonical, limit, rel_tol=1e-9):
        return True
    stated = [Equivalent(threshold.value, threshold.unit), *threshold.also]
    return any(
        info.unit(e.unit) is reported and (number >= e.value or math.isclose(number, e.value))
        for e in stated
    )


# --- what is due -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    check: Check
    opens: dt.date
    """Results from this day on count."""
    due: dt.date
    reason: str


def labs_due(
    record: CourseRecord,
    today: dt.date,
    *,
    schedule: str = "baseline_and_peak",
    peak_started: dt.date | None = None,
) -> tuple[LabDue, ...]:
    """The tests the course needs now under `schedule`, due or overdue, by due date.

    `peak_started` is the day the target dose was reached (the caller knows it); None means not
    yet, and nothing is due "at peak dose". Results dated after `today` are ignored.
    """
    knowledge = load_labs()
    option = knowledge.option(schedule)
    last = _last_dose(record)
    if last is not None and today > last:
        return ()
    results = [r for r in record.events_of(LabResult) if r.date <= today]
    due: list[LabDue] = []
    for window in _windows(
        option, knowledge.schedule, record.course.first_dose, today, last, peak_started
    ):
        if today < window.opens:
            continue
        for test in option.tests:
            if not any(r.test == test and r.date >= window.opens for r in results):
                due.append(
                    LabDue(
                        test=test,
                        check=window.check,
                        due=window.due,
                        overdue=today > window.due,
                        reason=window.reason,
                        status=option.status,
                        source=option.source,
                    )
                )
    due.sort(key=lambda d: d.due)
    return tuple(due)


def _last_dose(record: CourseRecord) -> dt.date | None:
    stops = [e.date for e in record.events_of(LastDose)]
    if record.course.last_dose is not None:
        stops.append(record.course.last_dose)
    return min(stops) if stops else None


def _windows(
    option: ScheduleOption,
    schedule: Schedule,
    first: dt.date | None,
    today: dt.date,
    last: dt.date | None,
    peak_started: dt.date | None,
) -> list[_Window]:
    windows = []
    if option.baseline:
        before = first or today
        days = schedule.baseline_window_days
        since = "before it" if first else "(no first dose set yet)"
        windows.append(
            _Window(
                Check.BASELINE,
                before - dt.timedelta(days=days),
                before,
                f"baseline, before the first dose: no result in the {days} days {since}",
            )
        )
    if option.at_peak and peak_started is not None:
        days = schedule.peak_window_days
        windows.append(
            _Window(
                Check.PEAK,
                peak_started,
                peak_started + dt.timedelta(days=days),
                f"at peak dose: within {days} days of reaching the target dose on "
                f"{peak_started.isoformat()}",
            )
        )
    if option.every_days and first is not None and today > first:
        step = option.every_days
        k = (today - first).days // step
        if option.until_day:
            k = min(k, option.until_day // step)
        day = k * step
        check_day = first + dt.timedelta(days=day)
        if k >= 1 and (last is None or check_day <= last):
            span = (
                f"for the first {option.until_day} days"
                if option.until_day
                else "from the first dose"
            )
            windows.append(
                _Window(
                    Check.PERIODIC,
                    check_day - dt.timedelta(days=step // 2),
                    check_day,
                    f"every {step} days {span}: the check of day {day}",
                )
            )
    return windows
