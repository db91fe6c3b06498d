"""Read knowledge data files strictly: every key known, every entry sourced.

One mechanism for every data file: a TOML table of entries becomes a tuple of frozen
dataclasses, and anything unexpected is an error that names the file, the entry and the key.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, TypeVar

KNOWLEDGE_DIR = Path(__file__).resolve().parent


class Status(StrEnum):
    """How well a fact is supported, as the knowledge base marks it."""

    CONFIRMED = "confirmed"
    SECONDARY = "secondary"
    UNCONFIRMED = "unconfirmed"


class KnowledgeError(ValueError):
    """A data file does not match what the code expects of it."""


T = TypeVar("T")


def read_toml(name: str) -> dict[str, Any]:
    """Return the parsed content of a TOML file in the knowledge folder."""
    path = KNOWLEDGE_DIR / name
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise KnowledgeError(f"{name}: not valid TOML: {error}") from error


def entries(data: dict[str, Any], table: str, cls: type[T], *, where: str) -> tuple[T, ...]:
    """Build one dataclass per entry of `data[table]`, rejecting unknown or missing keys."""
    rows = data.get(table, [])
    if not isinstance(rows, list):
        raise KnowledgeError(f"{where}: [{table}] must be an array of tables ([[{table}]])")
    return tuple(
        entry(row, cls, where=f"{where} [[{table}]] #{i + 1}") for i, row in enumerate(rows)
    )


def entry(row: Any, cls: type[T], *, where: str) -> T:
    """Build one dataclass from a mapping, checking keys, types and the source."""
    if not isinstance(row, dict):
        raise KnowledgeError(f"{where}: expected a table, got {type(row).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(row) - set(fields))
    if unknown:
        raise KnowledgeError(
            f"{where}: unknown key {unknown[0]!r}; allowed keys are {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in row:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise KnowledgeError(f"{where}: missing key {name!r}")
            continue
        values[name] = _coerce(row[name], hints[name], where=f"{where}: key {name!r}")
    if "source" in fields and not str(values.get("source", "")).strip():
        raise KnowledgeError(f"{where}: every entry needs a non-empty 'source'")
    return cls(**values)


def _coerce(value: Any, hint: Any, *, where: str) -> Any:
    """Check `value` against a simple type hint, converting strings to enums."""
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [h for h in typing.get_args(hint) if h is not type(None)]
        if value is None:
            return None
        errors = []
        for option in options:
            try:
                return _coerce(value, option, where=where)
            except KnowledgeError as error:
                errors.append(str(error))
        raise KnowledgeError(errors[0])
    if origin is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, list):
            raise KnowledgeError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, item_hint, where=where) for v in value)
    if origin is dict:
        key_hint, value_hint = typing.get_args(hint)
        if not isinstance(value, dict):
            raise KnowledgeError(f"{where}: expected a table, got {value!r}")
        return {
            _coerce(k, key_hint, where=where): _coerce(v, value_hint, where=f"{where}.{k}")
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return entry(value, hint, where=where)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in hint)
            raise KnowledgeError(f"{where}: {value!r} is not one of: {allowed}") from None
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise KnowledgeError(f"{where}: expected {hint.__name__}, got {value!r}")
    if isinstance(value, bool) and hint is int:
        raise KnowledgeError(f"{where}: expected int, got {value!r}")
    return value
