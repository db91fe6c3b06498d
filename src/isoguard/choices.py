"""Turn the core's vocabulary enums into Django field choices (one place, one spelling)."""

from __future__ import annotations

from enum import StrEnum


def choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """Return Django choices whose stored values are the enum's slugs."""
    return [(member.value, member.value.replace("_", " ").replace("-", " ")) for member in enum]
