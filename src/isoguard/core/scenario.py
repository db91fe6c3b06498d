"""Read a scenario (DESIGN.md, "Scenario format (v1)") into core types, naming any bad field.

A scenario is a course record at a moment and an action to decide. Reading is strict: an unknown
key, a missing field, a wrong type or an impossible value is refused with the path of the field
(`events[3].specimen_date`) and what is allowed there, because a scenario the core misreads could
authorise a dispense the rules forbid. Whether the record satisfies a programme is not decided
here; that is the rule engine's job.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from isoguard.core.knowledge.packs import load_packs
from isoguard.core.model import (
    Comprehension,
    Consent,
    Contraception,
    Counselling,
    CourseFacts,
    CourseRecord,
    Dispense,
    Enrolled,
    Event,
    LabResult,
    LastDose,
    MedicationGuideAck,
    MoodAssessment,
    PatientFacts,
    PregnancyTest,
    Prescription,
)
from isoguard.core.vocabulary import (
    Action,
    ConsentKind,
    ContraceptionMethod,
    Jurisdiction,
    LabTest,
    MoodTool,
    PregnancyTestResult,
    PregnancyTestSetting,
    Product,
    RulePack,
)

WHOLE = "(scenario)"
"""The field named when the scenario as a whole cannot be read."""

MAX_TEXT = 200
MAX_LINE_LENGTH = 1_000_000
MOOD_SCORE_RANGE = {MoodTool.PHQ9: (0, 27), MoodTool.PHQ_A: (0, 27)}
"""PHQ-9 and PHQ-A (its adolescent version) both score nine items 0 to 3."""
MOOD_TOOL_NAMES = {"PHQ-9": MoodTool.PHQ9, "PHQ-A": MoodTool.PHQ_A}
"""The tools' printed names, which the example scenarios use, besides the slugs of DESIGN.md."""

TOP_LEVEL_KEYS = (
    "id", "jurisdiction", "pack", "as_of", "action", "patient", "course", "events", "expect",
)  # fmt: skip
PATIENT_KEYS = ("birth_date", "can_become_pregnant")
COURSE_KEYS = ("product", "first_dose")

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}.*")
E = TypeVar("E", bound=StrEnum)


class ScenarioError(ValueError):
    """A scenario that cannot be read; `field` names the culprit, `message` what is allowed.

    `scenario_id` is the scenario's `id` when it could be read, so a batch can say which
    scenario was refused.
    """

    def __init__(self, field: str, message: str, *, scenario_id: str | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.scenario_id = scenario_id


@dataclass(frozen=True)
class Scenario:
    """A course record at a moment, and the action to decide."""

    id: str | None
    jurisdiction: Jurisdiction
    pack: RulePack | None
    """None: the pack in force for `jurisdiction` on `as_of` applies."""
    as_of: dt.datetime
    """Aware: the moment of the decision, in the offset the scenario gave."""
    action: Action
    record: CourseRecord


def parse_scenario(data: object) -> Scenario:
    """Return the scenario in `data` (decoded JSON), or raise ScenarioError naming the field."""
    top = _Object(data, "", TOP_LEVEL_KEYS)
    scenario_id = _scenario_id(top)
    try:
        return _parse(top, scenario_id)
    except ScenarioError as error:
        error.scenario_id = scenario_id
        raise


def scenario_from_json(text: str | bytes) -> Scenario:
    """Return the scenario in the JSON `text`, or raise ScenarioError naming the field."""
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ScenarioError(WHOLE, f"not valid JSON: {error}") from None
    except RecursionError:
        raise ScenarioError(WHOLE, "not valid JSON: nested too deeply") from None
    return parse_scenario(data)


def iter_jsonl_scenarios(
    lines: Iterable[str | bytes], *, max_line_length: int = MAX_LINE_LENGTH
) -> Iterator[tuple[int, Scenario | ScenarioError]]:
    """Yield (line number from 1, scenario or its error) for each non-blank line of JSON Lines.

    A bad line yields its error and reading goes on, so one mistake does not hide the rest.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) > max_line_length:
            yield number, ScenarioError(WHOLE, f"line longer than {max_line_length} characters")
            continue
        try:
            yield number, scenario_from_json(line)
        except ScenarioError as error:
            if error.scenario_id is None:
                error.scenario_id = _readable_id(line)
            yield number, error


def scenarios_from_jsonl(text: str) -> list[tuple[int, Scenario | ScenarioError]]:
    """Return (line number from 1, scenario or its error) for each non-blank line of `text`."""
    # Not splitlines(): it also breaks at U+2028 and the like, which JSON text may hold.
    return list(iter_jsonl_scenarios(text.split("\n")))


def _readable_id(line: str | bytes) -> str | None:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return str(data["id"])
    return None


def _scenario_id(top: _Object) -> str | None:
    if top.get("id") is None:
        return None
    return top.text("id")


def _parse(top: _Object, scenario_id: str | None) -> Scenario:
    jurisdiction = top.enum("jurisdiction", Jurisdiction)
    pack = top.optional_enum("pack", RulePack)
    if pack is not None:
        pack_jurisdiction = next(p.jurisdiction for p in load_packs() if p.id == pack)
        if pack_jurisdiction != jurisdiction:
            raise top.error(
                "pack", f"{pack} is a pack of {pack_jurisdiction}, not of {jurisdiction}"
            )
    as_of = top.datetime("as_of")
    action = top.enum("action", Action)
    patient = _patient(top.child("patient", PATIENT_KEYS), as_of.date())
    course = _course(top.child("course", COURSE_KEYS))
    events = tuple(_event(item, f"events[{i}]") for i, item in enumerate(top.items("events")))
    course = _with_last_dose(course, events)
    return Scenario(
        id=scenario_id,
        jurisdiction=jurisdiction,
        pack=pack,
        as_of=as_of,
        action=action,
        record=CourseRecord(
            jurisdiction=jurisdiction, patient=patient, course=course, events=events, pack=pack
        ),
    )


def _patient(patient: _Object, today: dt.date) -> PatientFacts:
    birth_date = patient.date("birth_date")
    if birth_date > today:
        raise patient.error("birth_date", f"is after the day of as_of ({today})")
    return PatientFacts(
        birth_date=birth_date,
        # Required but may be null: the prescriber has not assessed it yet.
        can_become_pregnant=patient.optional_flag("can_become_pregnant", required=True),
    )


def _course(course: _Object) -> CourseFacts:
    return CourseFacts(
        product=course.enum("product", Product),
        first_dose=course.optional_date("first_dose"),
    )


def _with_last_dose(course: CourseFacts, events: tuple[Event, ...]) -> CourseFacts:
    """Copy the `last_dose` event into the course facts, which carry it too."""
    last_doses = [(i, e) for i, e in enumerate(events) if isinstance(e, LastDose)]
    if not last_doses:
        return course
    if len(last_doses) > 1:
        raise ScenarioError(f"events[{last_doses[1][0]}]", "a course has one last_dose event")
    index, last_dose = last_doses[0]
    if course.first_dose is not None and last_dose.date < course.first_dose:
        raise ScenarioError(
            f"events[{index}].date", f"is before course.first_dose ({course.first_dose})"
        )
    return CourseFacts(
        product=course.product,
        first_dose=course.first_dose,
        last_dose=last_dose.date,
        number=course.number,
    )


def _contraception(event: _Object) -> Contraception:
    where = event.at("methods")
    items = event.items("methods")
    if not items:
        allowed = _choices(ContraceptionMethod)
        raise ScenarioError(where, f"must list at least one method: {allowed}")
    methods: list[ContraceptionMethod] = []
    for i, item in enumerate(items):
        method = _enum_value(item, f"{where}[{i}]", ContraceptionMethod)
        if method in methods:
            # A method listed twice must not count as two methods.
            raise ScenarioError(f"{where}[{i}]", f"{method} is listed twice")
        methods.append(method)
    if ContraceptionMethod.ABSTINENCE in methods and len(methods) > 1:
        raise ScenarioError(where, "abstinence stands alone; it cannot be combined with a method")
    start = event.date("start")
    end = event.optional_date("end")
    if end is not None and end < start:
        raise event.error("end", f"is before start ({start})")
    return Contraception(methods=tuple(methods), start=start, end=end)


def _mood_assessment(event: _Object) -> MoodAssessment:
    tools = {**{t.value: t for t in MoodTool}, **MOOD_TOOL_NAMES}
    name = event.required("tool", f"one of {', '.join(tools)}")
    if not isinstance(name, str) or name not in tools:
        raise event.error("tool", f"must be one of {', '.join(tools)}; got {name!r}")
    tool = tools[name]
    low, high = MOOD_SCORE_RANGE[tool]
    return MoodAssessment(
        tool=tool, score=event.integer("score", low, high), date=event.date("date")
    )


def _lab(event: _Object) -> LabResult:
    return LabResult(
        test=event.enum("test", LabTest),
        value=event.number("value"),
        # The model has no "unit not given"; an empty unit says so.
        unit=event.optional_text("unit") or "",
        date=event.date("date"),
    )


EVENTS: dict[str, tuple[tuple[str, ...], Callable[[_Object], Event]]] = {
    "enrolled": (("date",), lambda e: Enrolled(date=e.date("date"))),
    "consent": (
        ("kind", "date"),
        lambda e: Consent(kind=e.enum("kind", ConsentKind), date=e.date("date")),
    ),
    "contraception": (("methods", "start", "end"), _contraception),
    "pregnancy_test": (
        ("specimen_date", "result", "setting"),
        lambda e: PregnancyTest(
            specimen_date=e.date("specimen_date"),
            result=e.enum("result", PregnancyTestResult),
            setting=e.enum("setting", PregnancyTestSetting),
        ),
    ),
    "counselling": (("date",), lambda e: Counselling(date=e.date("date"))),
    "comprehension": (
        ("date", "passed"),
        lambda e: Comprehension(date=e.date("date"), passed=e.flag("passed")),
    ),
    "mood_assessment": (("tool", "score", "date"), _mood_assessment),
    "lab": (("test", "value", "unit", "date"), _lab),
    "prescription": (
        ("date", "days_supply", "refills"),
        lambda e: Prescription(
            date=e.date("date"),
            days_supply=e.integer("days_supply", 1),
            refills=e.integer("refills", 0, default=0),
        ),
    ),
    "medication_guide_ack": (("date",), lambda e: MedicationGuideAck(date=e.date("date"))),
    "dispense": (
        ("date", "days_supply"),
        lambda e: Dispense(date=e.date("date"), days_supply=e.integer("days_supply", 1)),
    ),
    "last_dose": (("date",), lambda e: LastDose(date=e.date("date"))),
}
"""Each event type of the format: its keys besides `type`, and how to read it."""


def _event(data: object, where: str) -> Event:
    if not isinstance(data, dict):
        raise ScenarioError(where, f"must be an object with a type: {', '.join(EVENTS)}")
    kind = data.get("type")
    if kind is None:
        raise ScenarioError(f"{where}.type", f"is required: one of {', '.join(EVENTS)}")
    if not isinstance(kind, str) or kind not in EVENTS:
        raise ScenarioError(f"{where}.type", f"must be one of {', '.join(EVENTS)}; got {kind!r}")
    keys, read = EVENTS[kind]
    return read(_Object(data, where, ("type", *keys)))


def _choices(kind: type[StrEnum]) -> str:
    return ", ".join(member.value for member in kind)


def _enum_value(value: object, where: str, kind: type[E]) -> E:
    if not isinstance(value, str) or value not in {m.value for m in kind}:
        raise ScenarioError(where, f"must be one of {_choices(kind)}; got {value!r}")
    return kind(value)


def _parse_date(value: object, where: str) -> dt.date:
    # date.fromisoformat also takes 20261210 and 2026-W50-4 since Python 3.11; the format does not.
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ScenarioError(where, f"must be a date YYYY-MM-DD; got {value!r}")


def _parse_moment(value: object) -> dt.datetime | None:
    if not (isinstance(value, str) and _DATETIME.fullmatch(value)):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


class _Object:
    """A JSON object at a path in the scenario, read one typed field at a time."""

    def __init__(self, data: object, path: str, keys: tuple[str, ...]) -> None:
        if not isinstance(data, dict):
            raise ScenarioError(path or WHOLE, f"must be a JSON object; got {_kind(data)}")
        unknown = sorted(str(key) for key in data if key not in keys)
        if unknown:
            allowed = ", ".join(keys)
            raise ScenarioError(self._at(path, unknown[0]), f"unknown field; allowed: {allowed}")
        self.data: dict[str, object] = data
        self.path = path

    @staticmethod
    def _at(path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    def at(self, key: str) -> str:
        return self._at(self.path, key)

    def error(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(self.at(key), message)

    def get(self, key: str) -> object:
        return self.data.get(key)

    def required(self, key: str, what: str) -> object:
        if key not in self.data:
            raise self.error(key, f"is required: {what}")
        return self.data[key]

    def child(self, key: str, keys: tuple[str, ...]) -> _Object:
        return _Object(self.required(key, "an object"), self.at(key), keys)

    def items(self, key: str) -> list[object]:
        value = self.required(key, "a list")
        if not isinstance(value, list):
            raise self.error(key, f"must be a list; got {_kind(value)}")
        return value

    def text(self, key: str) -> str:
        value = self.required(key, "text")
        if not isinstance(value, str):
            raise self.error(key, f"must be text; got {value!r}")
        if not value.strip():
            raise self.error(key, "is empty")
        if len(value) > MAX_TEXT:
            raise self.error(key, f"is longer than {MAX_TEXT} characters")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.get(key) is None else self.text(key)

    def enum(self, key: str, kind: type[E]) -> E:
        value = self.required(key, f"one of {_choices(kind)}")
        return _enum_value(value, self.at(key), kind)

    def optional_enum(self, key: str, kind: type[E]) -> E | None:
        return None if self.get(key) is None else self.enum(key, kind)

    def date(self, key: str) -> dt.date:
        return _parse_date(self.required(key, "a date YYYY-MM-DD"), self.at(key))

    def optional_date(self, key: str) -> dt.date | None:
        return None if self.get(key) is None else self.date(key)

    def datetime(self, key: str) -> dt.datetime:
        what = "a date and time with its offset, such as 2026-12-10T15:00:00-05:00"
        value = self.required(key, what)
        moment = _parse_moment(value)
        if moment is None:
            raise self.error(key, f"must be {what}; got {value!r}")
        if moment.utcoffset() is None:
            raise self.error(key, f"has no offset from UTC; must be {what}")
        return moment

    def flag(self, key: str) -> bool:
        value = self.required(key, "true or false")
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false; got {value!r}")
        return value

    def optional_flag(self, key: str, *, required: bool) -> bool | None:
        what = "true, false or null"
        value = self.required(key, what) if required else self.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.error(key, f"must be {what}; got {value!r}")
        return value

    def integer(
        self, key: str, low: int, high: int | None = None, *, default: int | None = None
    ) -> int:
        what = f"a whole number from {low}" + (f" to {high}" if high is not None else " up")
        if default is not None and key not in self.data:
            return default
        value = self.required(key, what)
        # bool is an int in Python, not in JSON.
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be {what}; got {value!r}")
        if value < low or (high is not None and value > high):
            raise self.error(key, f"must be {what}; got {value}")
        return value

    def number(self, key: str) -> float:
        what = "a number, 0 or more"
        value = self.required(key, what)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be {what}; got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise self.error(key, f"must be {what}; got {value}")
        return float(value)


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true or false"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, int | float) else repr(value))
