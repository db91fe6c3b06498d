"""What the patient is told right away, by level: who to call first, then what helps.

Pure: the triage result, the patient's country's helplines and the clinic's number go in; an
`Advice` comes out, most urgent part first. The words and tips are data (triage.toml levels,
self_care.toml, helplines.toml), each with its source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from isoguard.core.helplines import Country, dial
from isoguard.core.knowledge.loading import KnowledgeError, Status, entries, read_toml
from isoguard.core.triage import TriageResult, load_triage

EMERGENCY = "emergency"
CALL_LEVELS = ("stop_and_call", "call_today")
SELF_CARE_LEVELS = ("self_care", "tell_prescriber")


@dataclass(frozen=True)
class General:
    text: str
    status: Status
    source: str


@dataclass(frozen=True)
class Tip:
    concept: str
    text: str
    status: Status
    source: str


@dataclass(frozen=True)
class Note:
    concept: str
    text: str
    status: Status
    source: str
    jurisdiction: str = ""
    """Shown only to patients of this jurisdiction; empty for everyone."""


@dataclass(frozen=True)
class SelfCare:
    general: tuple[General, ...]
    tips: tuple[Tip, ...]
    notes: tuple[Note, ...]


@cache
def load_self_care() -> SelfCare:
    """Load self_care.toml; every tip and note must name a concept the triage knows."""
    where = "self_care.toml"
    data = read_toml(where)
    unknown = set(data) - {"general", "tip", "note"}
    if unknown:
        raise KnowledgeError(f"{where}: unknown table {sorted(unknown)}")
    loaded = SelfCare(
        entries(data, "general", General, where=where),
        entries(data, "tip", Tip, where=where),
        entries(data, "note", Note, where=where),
    )
    known = {c.id for c in load_triage().concepts}
    concepts = [t.concept for t in loaded.tips] + [n.concept for n in loaded.notes]
    for concept in concepts:
        if concept not in known:
            raise KnowledgeError(f"{where}: unknown concept {concept!r}")
    return loaded


@dataclass(frozen=True)
class Call:
    """A number to call now, shown first and impossible to miss."""

    kind: str
    """"emergency", "crisis" or "clinic"."""
    label: str
    number: str
    source: str = ""

    @property
    def dial(self) -> str:
        """The number as dialled, for a tel: link."""
        return dial(self.number)


@dataclass(frozen=True)
class Advice:
    level: str
    calls: tuple[Call, ...]
    """In the order to show them: the emergency number, the crisis lines, the clinic."""
    headline: str
    tips: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def urgent(self) -> bool:
        return self.level == EMERGENCY or any(c.kind == "crisis" for c in self.calls)


def crisis_calls(country: Country) -> tuple[Call, ...]:
    """The country's emergency number, then its crisis lines (thoughts of suicide)."""
    lines = tuple(
        Call("crisis", f"{line.name} ({line.hours})" if line.hours else line.name, line.number,
             line.source)
        for line in country.crisis
    )  # fmt: skip
    return (emergency_call(country), *lines)


def emergency_call(country: Country) -> Call:
    return Call("emergency", f"Emergency number ({country.name})", country.emergency,
                country.emergency_source)  # fmt: skip


def advise(
    result: TriageResult,
    *,
    country: Country,
    jurisdiction: str,
    clinic_name: str,
    clinic_phone: str,
) -> Advice:
    """Return what to tell the patient now about `result`."""
    concepts = {c.id for c in result.concepts}
    calls: tuple[Call, ...] = ()
    if "suicidal_thoughts" in concepts:
        calls = crisis_calls(country)
    elif result.level == EMERGENCY:
        calls = (emergency_call(country),)
    if result.level in (EMERGENCY, *CALL_LEVELS):
        calls = (*calls, Call("clinic", clinic_name, clinic_phone))
    headline = next(lv.advice for lv in load_triage().levels if lv.id == result.level)
    self_care = load_self_care()
    tips: list[str] = []
    if result.level in SELF_CARE_LEVELS:
        tips = [t.text for t in self_care.tips if t.concept in concepts]
        tips += [g.text for g in self_care.general]
    notes = [
        n.text
        for n in self_care.notes
        if n.concept in concepts and n.jurisdiction in ("", jurisdiction)
    ]
    return Advice(result.level, calls, headline, tuple(_unique(tips)), tuple(notes))


def _unique(texts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(texts))
