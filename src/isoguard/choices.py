"""Turn the core's vocabulary enums into Django field choices and database checks (one place)."""

from __future__ import annotations

from enum import StrEnum

from django.db import models


def choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """Return Django choices whose stored values are the enum's slugs."""
    return [(member.value, member.value.replace("_", " ").replace("-", " ")) for member in enum]


def one_of(field: str, values: type[StrEnum] | list[str], *, name: str) -> models.CheckConstraint:
    """Return a database check that `field` holds one of the allowed values, whoever writes it."""
    allowed = [str(getattr(v, "value", v)) for v in values]
    return models.CheckConstraint(condition=models.Q(**{f"{field}__in": allowed}), name=name)
