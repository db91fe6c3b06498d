"""What the fuzz tests share: hostile values, and the "no stored garbage" sweep.

Hostile values are what a script, a broken client or a person pasting the wrong thing sends:
huge strings, NUL and control characters, bidi marks and emoji, markup and SQL, numbers that are
negative, huge, fractional, in exponent form or not ASCII digits at all, dates that do not exist or
sit at the ends of the calendar, times past midnight.

The sweep: after each request, every row it wrote (a new row, or one whose stored values changed)
is read back from the database and must pass `full_clean()` and hold no NUL character. SQLite
enforces no max_length and stores NUL, so a 10,000-character value or a NUL would be stored there
without complaint, and read back as garbage by everything that trusts the model; PostgreSQL
answers the same request with a server error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Max
from hypothesis import strategies as st

HUGE = "A" * 10_000

HOSTILE_TEXT = [
    "",
    " ",
    "   \t\n ",
    "\x00",
    "a\x00b",
    "\x01\x02\x1b[31m\x7f",
    "\u202eevil\u202c",  # right-to-left override
    "\u200b",  # zero-width space
    "\ufeff",
    "👩\u200d⚕️💊🧪",
    "Ω≈ç√∫˜µ≤≥÷",  # noqa: RUF001 - look-alike characters, on purpose
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' OR '1'='1' --",
    "'; DROP TABLE courses_course; --",
    "%s%s%s%n",
    "{{ request }}{% debug %}",
    "../../../../etc/passwd",
    "null",
    "None",
    "true",
    "[]",
    "{}",
    HUGE,
    "é" * 5_000,
]
HOSTILE_NUMBERS = [
    "-1",
    "0",
    "-0",
    "00000000000000000001",
    "1.5",
    "1,5",
    "1e3",
    "1E-7",
    "1e309",
    "-1e309",
    "NaN",
    "nan",
    "Infinity",
    "-inf",
    "9" * 30,
    "-" + "9" * 30,
    "9" * 5000,  # int() refuses over 4300 digits
    "2147483648",
    "9223372036854775808",
    "0x1A",
    "1_000",
    " 7 ",
    "²",  # str.isdigit() is True, int() refuses it
    "①",
    "١٢",  # Arabic-Indic digits: int() accepts them
    "７",  # noqa: RUF001 - fullwidth
    "0.000000000000000000000001",
]
HOSTILE_DATES = [
    "0000-00-00",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "2026-02-30",
    "2026-13-01",
    "2026-00-10",
    "-2026-01-01",
    "2026-1-1",
    "20261125",
    "25/11/2026",
    "2026-11-25T10:00:00",
    "2026-11-25 00:00",
    "1900-01-01",
    "2100-01-01",
    "２０２６-１１-２５",  # noqa: RUF001 - fullwidth digits
]
HOSTILE_TIMES = ["24:00", "23:60", "25:61", "-01:00", "12", "12:00:00.9999999", "noon", "00:00"]

ALL_HOSTILE = HOSTILE_TEXT + HOSTILE_NUMBERS + HOSTILE_DATES + HOSTILE_TIMES

# Text a browser can send: any character but the lone surrogates UTF-8 cannot encode.
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def hostile_values() -> st.SearchStrategy[str]:
    """One hostile value: mostly from the lists above, sometimes generated."""
    return st.one_of(
        st.sampled_from(ALL_HOSTILE),
        ANY_TEXT,
        st.integers(min_value=-(10**20), max_value=10**20).map(str),
        st.floats().map(repr),
        st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat),
    )


# Tables a refused request may still write: the audit trail records refusals too, an API token
# records when it was last used, a CDS Hooks token is kept so that it cannot be replayed, and the
# pharmacy page keeps every answer the programme gives it (each view of it asks again, as the
# pharmacist would).
MAY_CHANGE_ON_REFUSAL = {
    "audit.auditevent",
    "audit.auditchainhead",
    "accounts.apitoken",
    "cdshooks.seentoken",
    "courses.programmedecision",
}
APPEND_ONLY = {"audit.auditevent"}  # only ever inserted: new rows are those past the last id


def isoguard_models() -> list[type[models.Model]]:
    return [
        m
        for m in apps.get_models()
        if m.__module__.startswith("isoguard.") and not m._meta.proxy and m._meta.managed
    ]


Rows = dict[str, dict[object, tuple]]


@dataclass
class Sweep:
    """Checks that every row a request wrote passes full_clean(); see the module's docstring.

    `begin()` takes each table's rows as tuples (one query a table, no validation), `check()`
    takes them again and full_cleans only the rows that are new or differ, so it also sees a
    `QuerySet.update()`, which sends no signal."""

    models: list[type[models.Model]] = field(default_factory=isoguard_models)
    before: Rows = field(default_factory=dict)
    top: dict[str, int] = field(default_factory=dict)

    def rows(self) -> Rows:
        out: Rows = {}
        for model in self.models:
            label = model._meta.label_lower
            manager = model._base_manager
            if label in APPEND_ONLY:
                manager = manager.filter(pk__gt=self.top.get(label, 0))
            out[label] = {row[0]: row for row in manager.order_by().values_list("pk", *[
                f.attname for f in model._meta.concrete_fields if not f.primary_key
            ])}  # fmt: skip
        return out

    def begin(self) -> None:
        """Call before a request: what differs afterwards is what the request wrote."""
        for model in self.models:
            label = model._meta.label_lower
            if label in APPEND_ONLY:
                self.top[label] = model._base_manager.aggregate(top=Max("pk"))["top"] or 0
        self.before = self.rows()

    def check(self) -> set[str]:
        """After a request: full_clean every row it wrote. Return the tables it wrote to; raise
        AssertionError naming each row that is not clean."""
        after = self.rows()
        written: set[str] = set()
        problems: list[str] = []
        for model in self.models:
            label = model._meta.label_lower
            old, new = self.before[label], after[label]
            pks = [pk for pk, row in new.items() if old.get(pk) != row]
            if pks or (len(old) != len(new) and label not in APPEND_ONLY):
                written.add(label)
            if pks:
                problems += unclean(model._base_manager.filter(pk__in=pks))
        assert not problems, "stored garbage:\n" + "\n".join(problems)
        return written

    def everything(self) -> None:
        """Every row of every isoguard table (at the end of a test)."""
        problems: list[str] = []
        for model in self.models:
            problems += unclean(model._base_manager.all())
        assert not problems, "stored garbage:\n" + "\n".join(problems)


def unclean(rows: Iterable[models.Model]) -> list[str]:
    """Each row that full_clean() refuses, or that holds a NUL character: SQLite stores one,
    PostgreSQL refuses it (text and jsonb alike), so on PostgreSQL the same request is a 500."""
    problems = []
    for row in rows:
        found: dict[str, list[str]] = {}
        try:
            # The password is a hash the app writes; the rest must be what a form would accept.
            row.full_clean(exclude=["password"] if hasattr(row, "password") else None)
        except ValidationError as error:
            found.update(error.message_dict)
        for f in row._meta.concrete_fields:
            if "\x00" in _text_of(getattr(row, f.attname)):
                found.setdefault(f.name, []).append("holds a NUL character")
        if found:
            shown = {
                name: [repr(getattr(row, name, None))[:80], *messages]
                for name, messages in found.items()
            }
            problems.append(f"  {row._meta.label} pk={row.pk}: {shown}")
    return problems


def _text_of(value: object) -> str:
    """Every string in a value (JSON included), joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "".join(_text_of(k) + _text_of(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "".join(_text_of(v) for v in value)
    return ""
