"""Emergency numbers and suicide/crisis lines by the patient's country, from helplines.toml.

When a report is an emergency or mentions thoughts of suicide, the page shows the country's
emergency number first, then its crisis lines. A country with no sourced crisis line has an empty
`crisis`: the page then shows the emergency number alone. A patient whose country is missing or
unknown is never left without a number: `helplines_for` falls back by jurisdiction and marks the
result `fallback=True`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from isoguard.core.knowledge.loading import KnowledgeError, Status, entries, entry, read_toml
from isoguard.core.vocabulary import Jurisdiction

FILE = "helplines.toml"

_CODE = re.compile(r"[A-Z]{2}")
_NUMBER = re.compile(r"\+?[0-9][0-9 \-]*")
_TABLES = frozenset({"country", "fallback"})
_ALIASES = {"UK": "GB", "EL": "GR"}
"""Codes people use that are not ISO 3166-1: the UK for GB, and the EU's EL for Greece."""
_JURISDICTION_COUNTRY = {Jurisdiction.US: "US", Jurisdiction.UK: "GB"}
"""Jurisdictions whose fallback is one country's entry; the others use a [[fallback]] table."""


@dataclass(frozen=True)
class CrisisLine:
    name: str
    number: str
    hours: str
    source: str
    status: Status
    note: str = ""

    @property
    def dial(self) -> str:
        """The number as dialled (for a tel: link): digits, with a leading + kept."""
        return dial(self.number)


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    emergency: str
    emergency_source: str
    emergency_status: Status
    crisis: tuple[CrisisLine, ...]
    emergency_also: tuple[str, ...] = ()
    """Other numbers that reach the same emergency service (999 in Ireland, 112 in the UK)."""
    note: str = ""
    fallback: bool = False
    """True when the patient's country was missing or unknown and the jurisdiction's was used."""

    @property
    def emergency_dial(self) -> str:
        return dial(self.emergency)


@dataclass(frozen=True)
class Fallback:
    """A [[fallback]] table: the entry for a jurisdiction when the country is not known."""

    jurisdiction: Jurisdiction
    name: str
    emergency: str
    emergency_source: str
    emergency_status: Status
    crisis: tuple[CrisisLine, ...] = ()
    note: str = ""

    def as_country(self) -> Country:
        return Country(
            code=str(self.jurisdiction),
            name=self.name,
            emergency=self.emergency,
            emergency_source=self.emergency_source,
            emergency_status=self.emergency_status,
            crisis=self.crisis,
            note=self.note,
            fallback=True,
        )


@dataclass(frozen=True)
class Helplines:
    countries: dict[str, Country]
    fallbacks: dict[Jurisdiction, Country]


def parse_country(row: Any, *, where: str) -> Country:
    """Build one country from a table with the keys of a [[country]] entry, strictly."""
    if isinstance(row, dict) and "fallback" in row:
        raise KnowledgeError(f"{where}: key 'fallback' is set by the loader, not by the data")
    country = entry(row, Country, where=where)
    if not _CODE.fullmatch(country.code):
        raise KnowledgeError(
            f"{where}: code {country.code!r} is not an ISO 3166-1 alpha-2 code (two capitals)"
        )
    _check_numbers(country.emergency, country.emergency_source, country.crisis, where=where)
    for number in country.emergency_also:
        _check_number(number, where=f"{where}: emergency_also")
    return country


def parse_helplines(data: dict[str, Any], *, where: str = FILE) -> Helplines:
    """Build and check every entry of a parsed helplines file (no file is read here)."""
    unknown = sorted(set(data) - _TABLES)
    if unknown:
        raise KnowledgeError(
            f"{where}: unknown table {unknown[0]!r}; "
            f"allowed tables are {', '.join(sorted(_TABLES))}"
        )
    rows = data.get("country", [])
    if not isinstance(rows, list):
        raise KnowledgeError(f"{where}: [country] must be an array of tables ([[country]])")
    countries: dict[str, Country] = {}
    for i, row in enumerate(rows):
        label = row.get("code", f"#{i + 1}") if isinstance(row, dict) else f"#{i + 1}"
        country = parse_country(row, where=f"{where} [[country]] {label}")
        if country.code in countries:
            raise KnowledgeError(f"{where} [[country]] {country.code}: code listed twice")
        countries[country.code] = country

    fallbacks: dict[Jurisdiction, Country] = {}
    for fallback in entries(data, "fallback", Fallback, where=where):
        label = f"{where} [[fallback]] {fallback.jurisdiction}"
        if fallback.jurisdiction in _JURISDICTION_COUNTRY or fallback.jurisdiction in fallbacks:
            raise KnowledgeError(
                f"{label}: this jurisdiction already has a fallback "
                f"({_JURISDICTION_COUNTRY.get(fallback.jurisdiction, 'listed twice')})"
            )
        _check_numbers(fallback.emergency, fallback.emergency_source, fallback.crisis, where=label)
        fallbacks[fallback.jurisdiction] = fallback.as_country()
    return Helplines(countries=countries, fallbacks=fallbacks)


@cache
def _load() -> Helplines:
    helplines = parse_helplines(read_toml(FILE), where=FILE)
    for jurisdiction in Jurisdiction:
        code = _JURISDICTION_COUNTRY.get(jurisdiction)
        if code is None and jurisdiction not in helplines.fallbacks:
            raise KnowledgeError(f"{FILE}: no [[fallback]] for jurisdiction {jurisdiction}")
        if code is not None and code not in helplines.countries:
            raise KnowledgeError(f"{FILE}: no [[country]] {code}, the fallback for {jurisdiction}")
    return helplines


@cache
def load_helplines() -> dict[str, Country]:
    """Every country of helplines.toml by ISO code, validated (once per process)."""
    return _load().countries


def helplines_for(
    country_code: str | None,
    jurisdiction: str,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Country:
    """The patient's country entry; never none: an empty or unknown code falls back.

    `overrides` is a clinic's setting (country code to a [[country]] table), checked as strictly
    as the file; an override replaces the file's entry for that code, or adds one.
    """
    try:
        clinic_jurisdiction = Jurisdiction(str(jurisdiction).strip().upper())
    except ValueError:
        allowed = ", ".join(str(j) for j in Jurisdiction)
        raise ValueError(f"unknown jurisdiction {jurisdiction!r}; allowed: {allowed}") from None
    countries = dict(load_helplines())
    for key, table in (overrides or {}).items():
        country = parse_country(dict(table), where=f"helpline override {key!r}")
        if _normalise(key) != country.code:
            raise KnowledgeError(f"helpline override {key!r}: its table's code is {country.code!r}")
        countries[country.code] = country
    code = _normalise(country_code)
    if code in countries:
        return countries[code]
    fallback_code = _JURISDICTION_COUNTRY.get(clinic_jurisdiction)
    if fallback_code is not None:
        return dataclasses.replace(countries[fallback_code], fallback=True)
    return _load().fallbacks[clinic_jurisdiction]


def _normalise(code: str | None) -> str:
    cleaned = (code or "").strip().upper()
    return _ALIASES.get(cleaned, cleaned)


def dial(number: str) -> str:
    """The number as dialled, for a tel: link: digits, a leading + kept, no extension."""
    number = re.split(r"(?i)\s*(ext|x|#)", number.strip())[0]
    digits = re.sub(r"[^0-9]", "", number)
    return f"+{digits}" if number.startswith("+") else digits


def _check_numbers(
    emergency: str, emergency_source: str, crisis: tuple[CrisisLine, ...], *, where: str
) -> None:
    _check_number(emergency, where=f"{where}: emergency")
    if not emergency_source.strip():
        raise KnowledgeError(f"{where}: every emergency number needs a non-empty emergency_source")
    seen: set[str] = set()
    for line in crisis:
        if not line.name.strip() or not line.hours.strip():
            raise KnowledgeError(f"{where}: every crisis line needs a name and hours")
        _check_number(line.number, where=f"{where}: crisis line {line.name!r}")
        if line.dial in seen:
            raise KnowledgeError(f"{where}: crisis number {line.number!r} listed twice")
        seen.add(line.dial)


def _check_number(number: str, *, where: str) -> None:
    if not _NUMBER.fullmatch(number.strip()):
        raise KnowledgeError(
            f"{where}: {number!r} is not a phone number (digits, spaces and hyphens)"
        )


COUNTRY_CHOICES: tuple[tuple[str, str], ...] = tuple(
    sorted((country.code, country.name) for country in load_helplines().values())
)
"""(code, name) of every listed country, sorted by code, for a form's choices."""
