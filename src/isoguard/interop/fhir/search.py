"""FHIR search: the parameters each type takes, filtering, sorting and paging a searchset.

Every search is within one patient's record (`patient`, or `subject` as its synonym). The views
build that patient's resources of the type with `views._resources` (the same code as a read, so
the access rules hold) and this module filters them in Python: a record holds tens of resources,
so this is the simplest correct way, and it matches exactly what the client receives.

- `_id`, a token parameter (`code=http://loinc.org|1742-6`, `|code`, `system|`, `code`) and a
  date parameter (`date=ge2026-01-01`; prefixes eq, ne, gt, lt, ge, le; YYYY, YYYY-MM or
  YYYY-MM-DD, each a range of days) take comma-separated values meaning OR; a parameter given
  twice means AND (`date=ge2026-01-01&date=lt2026-02-01`).
- `_sort` by a date parameter of the type (`date`, `-date` newest first); without it, oldest first.
- `_count` per page (default 50, at most 200: more is answered with 200), `_offset` where the
  page starts; the Bundle has `total` and `self`, `first`, `previous` and `next` links.
- Anything else, a malformed value, or a parameter given twice that takes one value, is a
  SearchError naming the parameter (a 400).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.http import QueryDict

DEFAULT_COUNT, MAX_COUNT = 50, 200
MAX_OFFSET = 1_000_000
# The parameters every searchable type takes; `_format` is accepted and ignored (JSON only).
COMMON = ("patient", "subject", "_id", "_count", "_offset", "_sort", "_format")
SINGLE = ("patient", "subject", "_count", "_offset", "_sort", "_format")
# Each type's own parameters: name -> (FHIR search parameter type, element of the resource).
PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "Observation": {
        "code": ("token", "code"),
        "category": ("token", "category"),
        "status": ("token", "status"),
        "date": ("date", "effectiveDateTime"),
    },
    "MedicationRequest": {
        "status": ("token", "status"),
        "authoredon": ("date", "authoredOn"),
    },
    "MedicationDispense": {
        "status": ("token", "status"),
        "whenhandedover": ("date", "whenHandedOver"),
    },
    "Consent": {
        "status": ("token", "status"),
        "category": ("token", "category"),
        "date": ("date", "dateTime"),
    },
    "QuestionnaireResponse": {
        "status": ("token", "status"),
        "authored": ("date", "authored"),
    },
    "Condition": {
        "code": ("token", "code"),
        "clinical-status": ("token", "clinicalStatus"),
        "recorded-date": ("date", "recordedDate"),
    },
    "AllergyIntolerance": {
        "clinical-status": ("token", "clinicalStatus"),
        "date": ("date", "recordedDate"),
    },
    "CarePlan": {
        "status": ("token", "status"),
        "category": ("token", "category"),
        "date": ("date", "period.start"),
    },
    "DetectedIssue": {
        "code": ("token", "code"),
        "identified": ("date", "identifiedDateTime"),
    },
}
DOCUMENTATION = {
    "patient": "the patient whose record is searched: patient-12, Patient/patient-12 or 12",
    "_id": "resource ids, comma-separated",
    "_count": f"resources per page, 0 to {MAX_COUNT} (default {DEFAULT_COUNT})",
    "_offset": "where the page starts (the Bundle's next and previous links carry it)",
    "_sort": "a date parameter of the type, `-` before it for newest first",
    "token": "system|code, |code, system| or code; comma-separated values mean OR",
    "date": "[eq|ne|gt|lt|ge|le]YYYY[-MM[-DD]]; repeat the parameter for a range",
}
DATE_VALUE = re.compile(r"(eq|ne|gt|lt|ge|le)?(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
RESOURCE_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
NUMBER = re.compile(r"\d{1,9}")

Resource = dict[str, Any]


class SearchError(ValueError):
    """A search the server cannot answer; `param` names the parameter at fault."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


@dataclass
class Search:
    """A parsed search: the patient, the filters, the order and the page."""

    patient: str
    filters: list[Callable[[Resource], bool]] = field(default_factory=list)
    sort: tuple[str, bool] | None = None  # (element, newest first)
    count: int = DEFAULT_COUNT
    offset: int = 0

    def run(self, resources: Iterable[Resource]) -> tuple[list[Resource], int]:
        """The page of matching resources, and how many match in all."""
        found = [r for r in resources if all(match(r) for match in self.filters)]
        if self.sort is not None:
            element, newest_first = self.sort
            dated = [r for r in found if _day(_at(r, element)) is not None]
            undated = [r for r in found if _day(_at(r, element)) is None]
            dated.sort(key=lambda r: _day(_at(r, element)), reverse=newest_first)  # type: ignore[arg-type, return-value]
            found = dated + undated
        return found[self.offset : self.offset + self.count], len(found)


def parameters(resource_type: str) -> dict[str, tuple[str, str]]:
    return PARAMS.get(resource_type, {})


def _at(resource: dict[str, Any], element: str) -> Any:
    """The value at a dotted element path (`period.start`), or None."""
    value: Any = resource
    for name in element.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return value


def parse(resource_type: str, query: QueryDict) -> Search:
    """Read the query string of a search on `resource_type`, or raise SearchError."""
    own = parameters(resource_type)
    for name in query:
        if name not in COMMON and name not in own:
            raise SearchError(name, f"unsupported search parameter {name!r} for {resource_type}")
    for name in SINGLE:
        if len(query.getlist(name)) > 1:
            raise SearchError(name, "give this parameter once")
    patient, subject = query.get("patient"), query.get("subject")
    if patient and subject and patient != subject:
        raise SearchError("subject", "patient and subject name different patients")
    raw = patient or subject
    if not raw:
        raise SearchError("patient", "search by patient: add ?patient=patient-<id>")
    search = Search(patient=raw)
    search.count = min(_number(query, "_count", DEFAULT_COUNT), MAX_COUNT)
    search.offset = _number(query, "_offset", 0)
    if search.offset > MAX_OFFSET:
        raise SearchError("_offset", f"at most {MAX_OFFSET}")
    for value in query.getlist("_id"):
        ids = set(_values("_id", value))
        search.filters.append(lambda r, ids=ids: r.get("id") in ids)  # type: ignore[misc]
    for name, (kind, element) in own.items():
        for value in query.getlist(name):
            if kind == "token":
                search.filters.append(_token_filter(name, element, value))
            else:
                search.filters.append(_date_filter(name, element, value))
    if "_sort" in query:
        search.sort = _sort(query["_sort"], own)
    return search


def links(url: str, query: QueryDict, search: Search, total: int) -> list[dict[str, str]]:
    """The Bundle's `link`s: `url` (the search's absolute URL without its query) per page."""
    kept = [(k, v) for k, values in query.lists() for v in values if k not in ("_count", "_offset")]

    def page(offset: int) -> str:
        return f"{url}?{urlencode([*kept, ('_count', search.count), ('_offset', offset)])}"

    result = [
        {"relation": "self", "url": page(search.offset)},
        {"relation": "first", "url": page(0)},
    ]
    if search.offset > 0 and search.count > 0:
        previous = max(0, min(search.offset, total) - search.count)
        result.append({"relation": "previous", "url": page(previous)})
    if search.count > 0 and search.offset + search.count < total:
        result.append({"relation": "next", "url": page(search.offset + search.count)})
    return result


def capability(resource_type: str) -> list[dict[str, str]]:
    """The CapabilityStatement's `searchParam` of one type."""
    common = [
        {"name": "patient", "type": "reference", "documentation": DOCUMENTATION["patient"]},
        {"name": "_id", "type": "token", "documentation": DOCUMENTATION["_id"]},
        {"name": "_count", "type": "number", "documentation": DOCUMENTATION["_count"]},
        {"name": "_offset", "type": "number", "documentation": DOCUMENTATION["_offset"]},
    ]
    own = [
        {"name": name, "type": kind, "documentation": f"{element}: {DOCUMENTATION[kind]}"}
        for name, (kind, element) in parameters(resource_type).items()
    ]
    if any(kind == "date" for kind, _ in parameters(resource_type).values()):
        own.append({"name": "_sort", "type": "string", "documentation": DOCUMENTATION["_sort"]})
    return common + own


# --- the parts ----------------------------------------------------------------------------------


def _number(query: QueryDict, name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not NUMBER.fullmatch(raw):
        raise SearchError(name, f"{raw!r} is not a whole number of 0 or more")
    return int(raw)


def _values(name: str, value: str) -> list[str]:
    values = [v.strip() for v in value.split(",")]
    if not all(values):
        raise SearchError(name, "an empty value")
    return values


def _codes(element: Any) -> list[tuple[str | None, str | None]]:
    """The (system, code) pairs of a code, a CodeableConcept, or a list of them."""
    if isinstance(element, str):
        return [(None, element)]
    if isinstance(element, list):
        return [pair for item in element for pair in _codes(item)]
    if isinstance(element, dict):
        return [(c.get("system"), c.get("code")) for c in element.get("coding", [])]
    return []


def _token_filter(name: str, element: str, value: str) -> Callable[[Resource], bool]:
    wanted = []
    for token in _values(name, value):
        system, bar, code = token.partition("|") if "|" in token else (None, "", token)
        if bar and not system and not code:
            raise SearchError(name, "'|' alone names no code")
        wanted.append((system if bar else None, bar == "|", code))

    def matches(resource: Resource) -> bool:
        element_value = _at(resource, element)
        plain = isinstance(element_value, str)  # a code without a system, e.g. `status`
        for have_system, have_code in _codes(element_value):
            for system, qualified, code in wanted:
                if code and have_code != code:
                    continue
                if not qualified or plain:
                    return True
                if (system or None) == have_system:  # `|code`: a coding without a system
                    return True
        return False

    return matches


def _date_range(name: str, value: str) -> tuple[str, dt.date, dt.date]:
    match = DATE_VALUE.fullmatch(value)
    if match is None:
        raise SearchError(name, f"{value!r} is not [eq|ne|gt|lt|ge|le]YYYY[-MM[-DD]]")
    prefix, year, month, day = match.groups()
    try:
        if day:
            start = end = dt.date(int(year), int(month), int(day))
        elif month:
            start = dt.date(int(year), int(month), 1)
            end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
        else:
            start, end = dt.date(int(year), 1, 1), dt.date(int(year), 12, 31)
    except ValueError:
        raise SearchError(name, f"{value!r} is not a real date") from None
    return prefix or "eq", start, end


def _day(value: Any) -> dt.date | None:
    """The day of a FHIR date or dateTime (isoguard writes full dates), else None."""
    match = RESOURCE_DAY.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _date_filter(name: str, element: str, value: str) -> Callable[[Resource], bool]:
    ranges = [_date_range(name, v) for v in _values(name, value)]
    tests: dict[str, Callable[[dt.date, dt.date, dt.date], bool]] = {
        "eq": lambda d, start, end: start <= d <= end,
        "ne": lambda d, start, end: not start <= d <= end,
        "gt": lambda d, start, end: d > end,
        "lt": lambda d, start, end: d < start,
        "ge": lambda d, start, end: d >= start,
        "le": lambda d, start, end: d <= end,
    }

    def matches(resource: Resource) -> bool:
        day = _day(_at(resource, element))
        return day is not None and any(tests[p](day, s, e) for p, s, e in ranges)

    return matches


def _sort(value: str, own: dict[str, tuple[str, str]]) -> tuple[str, bool]:
    name = value.removeprefix("-")
    dates = sorted(n for n, (kind, _) in own.items() if kind == "date")
    if name not in dates:
        choices = ", ".join(f"{n} or -{n}" for n in dates) or "nothing for this type"
        raise SearchError("_sort", f"{value!r}: sort by {choices}")
    return own[name][1], value.startswith("-")
