"""Score the PHQ-9 and the PHQ-A, from mood.toml; a positive item 9 takes the crisis path.

These tools screen for depression; they do not diagnose it. `score` sums items 1 to 9 (0 to 27),
names the severity band with the source's advice, and sets `crisis` when item 9 is above 0
("Not at all"), whatever the total, or when the patient answers "yes" to a PHQ-A suicide
question. Pure Python: no Django here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from isoguard.core.knowledge.loading import KnowledgeError, Status, entries, entry, read_toml
from isoguard.core.vocabulary import MoodTool

ITEM_COUNT = 9
MAX_TOTAL = 27


@dataclass(frozen=True)
class Option:
    """One answer on the frequency scale: its score and its label."""

    value: int
    label: str


@dataclass(frozen=True)
class Item:
    id: int
    text: str
    self_harm: bool = False


@dataclass(frozen=True)
class Extra:
    """A yes/no question of the form that is not scored (the PHQ-A suicide questions)."""

    id: str
    text: str
    crisis_if_yes: bool
    status: Status
    source: str


@dataclass(frozen=True)
class Tool:
    id: MoodTool
    name: str
    stem: str
    age_min: int
    age_note: str
    age_status: Status
    age_source: str
    status: Status
    source: str
    option: tuple[Option, ...]
    item: tuple[Item, ...]
    age_max: int | None = None
    extra: tuple[Extra, ...] = ()

    def allowed_values(self) -> tuple[int, ...]:
        return tuple(o.value for o in self.option)

    def covers_age(self, age_years: int) -> bool:
        return age_years >= self.age_min and (self.age_max is None or age_years <= self.age_max)


@dataclass(frozen=True)
class Band:
    """A severity band of the total, with what the source says the clinician should do."""

    id: str
    label: str
    min: int
    max: int
    advice: str
    status: Status
    source: str
    advice_status: Status
    advice_source: str
    worklist: str = ""
    """The triage level at which a score in this band goes on the clinic's worklist, if any."""


@dataclass(frozen=True)
class Crisis:
    """An answer to `item` above `above` takes the crisis path."""

    item: int
    above: int
    message: str
    action: str
    status: Status
    source: str


@dataclass(frozen=True)
class MoodKnowledge:
    tools: tuple[Tool, ...]
    bands: tuple[Band, ...]
    crisis: Crisis

    def tool(self, tool: MoodTool | str) -> Tool:
        return next(t for t in self.tools if t.id == MoodTool(tool))

    def band(self, total: int) -> Band:
        return next(b for b in self.bands if b.min <= total <= b.max)


class MoodInputError(ValueError):
    """Answers that cannot be scored; `field` names the culprit (e.g. "item 4")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class MoodScore:
    tool: MoodTool
    answers: tuple[int, ...]
    """The answers to items 1 to 9, in order."""
    total: int
    band: Band
    item9: int
    crisis: bool
    crisis_reasons: tuple[str, ...]
    """Why the crisis path was taken: "item 9" and/or the ids of PHQ-A questions answered yes."""

    @property
    def advice(self) -> str:
        return self.band.advice


@cache
def load_mood() -> MoodKnowledge:
    """Load and validate mood.toml (once per process)."""
    where = "mood.toml"
    data = read_toml(where)
    unknown = set(data) - {"tool", "band", "crisis"}
    if unknown:
        raise KnowledgeError(f"{where}: unknown table {sorted(unknown)[0]!r}")
    if not isinstance(data.get("crisis"), dict):
        raise KnowledgeError(f"{where}: missing the [crisis] table")
    knowledge = MoodKnowledge(
        tools=entries(data, "tool", Tool, where=where),
        bands=entries(data, "band", Band, where=where),
        crisis=entry(data["crisis"], Crisis, where=f"{where} [crisis]"),
    )
    _check(knowledge, where)
    return knowledge


def _check(knowledge: MoodKnowledge, where: str) -> None:
    from isoguard.core.triage import load_triage

    if sorted(t.id for t in knowledge.tools) != sorted(MoodTool):
        raise KnowledgeError(f"{where}: tools must be exactly the MoodTool vocabulary's")
    levels = {level.id for level in load_triage().levels}
    for band in knowledge.bands:
        if band.worklist and band.worklist not in levels:
            raise KnowledgeError(
                f"{where}: band {band.id}: unknown worklist level {band.worklist!r}"
            )
    for tool in knowledge.tools:
        if [i.id for i in tool.item] != list(range(1, ITEM_COUNT + 1)):
            raise KnowledgeError(f"{where}: {tool.id}: items must be numbered 1 to {ITEM_COUNT}")
        if tool.allowed_values() != (0, 1, 2, 3):
            raise KnowledgeError(f"{where}: {tool.id}: options must be valued 0, 1, 2, 3")
        if [i.id for i in tool.item if i.self_harm] != [knowledge.crisis.item]:
            raise KnowledgeError(
                f"{where}: {tool.id}: the self-harm item must be the crisis item only"
            )
    edges = [(b.min, b.max) for b in knowledge.bands]
    expected_mins = [0] + [b.max + 1 for b in knowledge.bands[:-1]]
    if not edges or [m for m, _ in edges] != expected_mins or edges[-1][1] != MAX_TOTAL:
        raise KnowledgeError(f"{where}: bands must cover 0 to {MAX_TOTAL} in order, without gaps")


def tool_for_age(age_years: int) -> MoodTool:
    """Return the tool for an age: the PHQ-A from 11 to 17 years, the PHQ-9 from 18.

    Below 11 no tool here is meant for the patient, and a ValueError says so.
    """
    if isinstance(age_years, bool) or not isinstance(age_years, int) or age_years < 0:
        raise ValueError(f"age_years: expected a whole number of years, got {age_years!r}")
    tools = load_mood().tools
    for tool in tools:
        if tool.covers_age(age_years):
            return tool.id
    youngest = min(t.age_min for t in tools)
    raise ValueError(
        f"age {age_years}: no mood screening tool here is meant for patients under {youngest} "
        f"years (the PHQ-A is for 11 to 17, the PHQ-9 for 18 and over)"
    )


def score(
    tool: MoodTool | str,
    answers: Mapping[int, int] | Sequence[int],
    *,
    extras: Mapping[str, bool] | None = None,
) -> MoodScore:
    """Score one questionnaire, or raise MoodInputError naming the bad field.

    `answers` is either the 9 answers in item order or a mapping from item number (1 to 9) to
    answer; each answer is 0, 1, 2 or 3. `extras` maps the ids of the form's yes/no questions
    (PHQ-A only) to the answers given; a "yes" to one flagged `crisis_if_yes` takes the crisis path.
    """
    knowledge = load_mood()
    try:
        spec = knowledge.tool(tool)
    except ValueError:
        allowed = ", ".join(t.value for t in MoodTool)
        raise MoodInputError("tool", f"expected one of {allowed}, got {tool!r}") from None
    given = _answers(spec, answers)
    total = sum(given)
    crisis_item = knowledge.crisis.item
    reasons = [f"item {crisis_item}"] if given[crisis_item - 1] > knowledge.crisis.above else []
    reasons += _extras_in_crisis(spec, extras or {})
    return MoodScore(
        tool=spec.id,
        answers=given,
        total=total,
        band=knowledge.band(total),
        item9=given[ITEM_COUNT - 1],
        crisis=bool(reasons),
        crisis_reasons=tuple(reasons),
    )


def _answers(tool: Tool, answers: Mapping[int, int] | Sequence[int]) -> tuple[int, ...]:
    """Return the answers to items 1 to 9 in order, each checked against the tool's options."""
    if isinstance(answers, Mapping):
        by_item = dict(answers)
    elif isinstance(answers, Sequence) and not isinstance(answers, str | bytes):
        by_item = {number: value for number, value in enumerate(answers, start=1)}
    else:
        raise MoodInputError(
            "answers", f"expected the 9 answers in order, or item number to answer; got {answers!r}"
        )
    for number in by_item:
        if isinstance(number, bool) or number not in range(1, ITEM_COUNT + 1):
            name = number if isinstance(number, int) else repr(number)
            raise MoodInputError(
                f"item {name}", f"unknown item; the items are numbered 1 to {ITEM_COUNT}"
            )
    allowed = tool.allowed_values()
    wording = ", ".join(str(v) for v in allowed[:-1]) + f" or {allowed[-1]}"
    result = []
    for number in range(1, ITEM_COUNT + 1):
        if number not in by_item:
            raise MoodInputError(
                f"item {number}", f"missing; all {ITEM_COUNT} items must be answered"
            )
        value = by_item[number]
        if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
            raise MoodInputError(f"item {number}", f"expected {wording}, got {value!r}")
        result.append(value)
    return tuple(result)


def _extras_in_crisis(tool: Tool, extras: Mapping[str, bool]) -> list[str]:
    """Return the ids of the yes/no questions answered yes that take the crisis path."""
    known = {e.id: e for e in tool.extra}
    reasons = []
    for question, answer in extras.items():
        if question not in known:
            allowed = ", ".join(known) or "none for this tool"
            raise MoodInputError(question, f"unknown question; allowed: {allowed}")
        if not isinstance(answer, bool):
            raise MoodInputError(question, f"expected true or false, got {answer!r}")
        if answer and known[question].crisis_if_yes:
            reasons.append(question)
    return reasons
