"""Small template helpers."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    """Return mapping[key], or None: `{{ marks|get_item:question.id }}`."""
    return mapping.get(key) if mapping else None
