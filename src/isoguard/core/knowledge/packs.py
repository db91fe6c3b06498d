"""Which rule pack is in force for a country on a day, from packs.toml."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from isoguard.core.knowledge.loading import KnowledgeError, Status, entries, read_toml
from isoguard.core.vocabulary import Jurisdiction, RulePack


@dataclass(frozen=True)
class PackEdition:
    id: RulePack
    jurisdiction: Jurisdiction
    effective_from: dt.date
    title: str
    status: Status
    source: str
    setting: str = ""
    """The environment setting that may move `effective_from` (for a disputed date)."""


@cache
def load_packs() -> tuple[PackEdition, ...]:
    where = "packs.toml"
    data = read_toml(where)
    if set(data) - {"pack"}:
        raise KnowledgeError(f"{where}: unknown table {sorted(set(data) - {'pack'})[0]!r}")
    packs = entries(data, "pack", PackEdition, where=where)
    if {p.id for p in packs} != set(RulePack):
        raise KnowledgeError(f"{where}: packs must be exactly {sorted(RulePack)}")
    return packs


def pack_in_force(
    jurisdiction: Jurisdiction, on: dt.date, *, starts: dict[str, dt.date] | None = None
) -> RulePack:
    """Return the pack in force for `jurisdiction` on `on`.

    `starts` moves the start of an edition (by pack id), as a clinic's settings may; otherwise
    the dates of packs.toml apply. Before a country's first edition, that edition applies.
    """
    editions = sorted(
        (
            ((starts or {}).get(p.id, p.effective_from), p.id)
            for p in load_packs()
            if p.jurisdiction == jurisdiction
        ),
    )
    in_force = [pack for start, pack in editions if start <= on]
    return in_force[-1] if in_force else editions[0][1]
