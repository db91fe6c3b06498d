"""Small template helpers."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

register = template.Library()
NEGATED_BEFORE = re.compile(
    r"(?i)\b(no|not|never|without|haven'?t|hasn'?t|don'?t|didn'?t)\W+(\w+\W+){0,2}$"
)


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    """Return mapping[key], or None: `{{ marks|get_item:question.id }}`."""
    return mapping.get(key) if mapping else None


def _evidence_pattern(evidence: str) -> re.Pattern[str] | None:
    """A pattern that finds `evidence` (normalised words) in the text the patient wrote.

    The triage reads a normalised copy (lower case, apostrophes dropped), so the evidence
    "cant keep any food down" has to match "can't keep any food down" in the original.
    """
    words = re.findall(r"[a-z0-9]+", evidence.lower())
    if not words or evidence.startswith("ticked:"):
        return None
    apostrophe = "['\u2019]?"
    parts = [apostrophe.join(re.escape(ch) for ch in word) for word in words]
    return re.compile(r"(?<![a-z0-9])" + r"[^a-z0-9]+".join(parts) + r"(?![a-z0-9])", re.I)


@register.filter
def highlight(text: str, concepts: list[dict[str, str]]) -> str:
    """Return `text`, escaped, with each concept's evidence wrapped in <mark title=concept>."""
    spans: list[tuple[int, int, str]] = []
    for concept in concepts or ():
        pattern = _evidence_pattern(concept.get("evidence", ""))
        matches = list(pattern.finditer(text)) if pattern else []
        # The mention the triage counted: the first one no "no"/"not"/"never" just before.
        counted = [m for m in matches if not NEGATED_BEFORE.search(text[: m.start()])]
        match = (counted or matches or [None])[0]
        if match:
            spans.append((match.start(), match.end(), concept["id"]))
    spans.sort()
    out, at = [], 0
    for start, end, concept_id in spans:
        if start < at:
            continue  # overlapping evidence: the first span is marked
        out.append(escape(text[at:start]))
        out.append(format_html('<mark title="{}">{}</mark>', concept_id, text[start:end]))
        at = end
    out.append(escape(text[at:]))
    return mark_safe("".join(str(part) for part in out))  # noqa: S308 - every part is escaped


@register.filter
def words(identifier: str) -> str:
    """`stop_and_call` -> `stop and call`."""
    return str(identifier or "").replace("_", " ")
