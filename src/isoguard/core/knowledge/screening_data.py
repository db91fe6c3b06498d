"""The screening lexicon and rule texts, from screening.toml."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

from isoguard.core.knowledge.codes import load_codes
from isoguard.core.knowledge.loading import KnowledgeError, Status, entries, read_toml
from isoguard.core.knowledge.products import Excipient
from isoguard.core.vocabulary import Jurisdiction


class Severity(StrEnum):
    CONTRAINDICATION = "contraindication"
    CAUTION = "caution"
    INFO = "info"


def normalise(text: str) -> str:
    """Fold case, punctuation and number-unit joins so that terms match whole words.

    "St. John's-wort" becomes "st john s wort"; "0.35mg" becomes "0 35 mg".
    """
    folded = re.sub(r"[^0-9a-z]+", " ", text.lower())
    return " ".join(re.sub(r"(?<=[0-9])(?=[a-z])|(?<=[a-z])(?=[0-9])", " ", folded).split())


def one_edit_apart(a: str, b: str) -> bool:
    """Return whether two words differ by one letter changed, added, dropped or swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return a == b
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )  # fmt: skip
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


# Words long enough that one typo cannot turn one medicine or condition into another.
TYPO_TOLERANT_LENGTH = 8


class Lexical:
    """Shared by entries that are found in free text by their terms."""

    terms: tuple[str, ...]
    exclude_terms: tuple[str, ...]

    def match(self, text: str) -> tuple[str | None, str | None]:
        """Return (the term found in `text`, the excluding term that cancels it, if any).

        Terms match as whole words; a single long word also matches with one typo
        ("isotretinion"). An excluding term ("gel" for a systemic medicine) cancels the match,
        and the caller sends the text for review by hand instead of ignoring it.
        """
        padded = f" {normalise(text)} "
        words = padded.split()
        term = next((t for t in self.terms if f" {normalise(t)} " in padded), None)
        if term is None:
            term = next(
                (
                    t for t in self.terms
                    if " " not in normalise(t) and len(normalise(t)) >= TYPO_TOLERANT_LENGTH
                    and any(one_edit_apart(normalise(t), w) for w in words)
                ),
                None,
            )  # fmt: skip
        if term is None:
            return None, None
        excluded = next((x for x in self.exclude_terms if f" {normalise(x)} " in padded), None)
        return term, excluded

    def find(self, text: str) -> str | None:
        """Return the term found in `text`, unless an excluding term cancels it."""
        term, excluded = self.match(text)
        return term if excluded is None else None


@dataclass(frozen=True)
class RuleText:
    id: str
    severity: Severity
    message: str
    action: str
    status: Status
    source: str
    weeks: int | None = None
    jurisdictions: tuple[Jurisdiction, ...] = ()


@dataclass(frozen=True)
class Indication:
    id: str
    label: str
    code: str
    on_label: bool
    status: Status
    source: str


@dataclass(frozen=True)
class PriorTreatment:
    id: str
    label: str
    oral_antibiotic: bool
    status: Status
    source: str
    topical: bool = False


@dataclass(frozen=True)
class CodeRef:
    rxcui: str
    name: str
    status: Status
    source: str


@dataclass(frozen=True)
class Allergen(Lexical):
    id: str
    label: str
    severity: Severity
    message: str
    action: str
    status: Status
    source: str
    terms: tuple[str, ...]
    exclude_terms: tuple[str, ...] = ()
    excipient: Excipient | None = None
    also_excipients: tuple[Excipient, ...] = ()
    severity_in: dict[Jurisdiction, Severity] = field(default_factory=dict)
    severity_in_status: Status | None = None
    """The status of the country-specific severity, when it differs from the entry's."""

    @property
    def excipients(self) -> tuple[Excipient, ...]:
        return ((self.excipient,) if self.excipient else ()) + self.also_excipients


@dataclass(frozen=True)
class Interaction(Lexical):
    id: str
    label: str
    severity: Severity
    message: str
    action: str
    status: Status
    source: str
    terms: tuple[str, ...]
    codes: tuple[CodeRef, ...] = ()
    exclude_terms: tuple[str, ...] = ()
    severity_in: dict[Jurisdiction, Severity] = field(default_factory=dict)
    severity_in_status: Status | None = None
    """The status of the country-specific severity, when it differs from the entry's."""
    applies_when_can_become_pregnant: bool = False


@dataclass(frozen=True)
class Condition(Lexical):
    id: str
    label: str
    severity: Severity
    message: str
    action: str
    status: Status
    source: str
    terms: tuple[str, ...]
    exclude_terms: tuple[str, ...] = ()
    severity_in: dict[Jurisdiction, Severity] = field(default_factory=dict)
    severity_in_status: Status | None = None
    """The status of the country-specific severity, when it differs from the entry's."""


@dataclass(frozen=True)
class CounsellingPoint:
    id: str
    message: str
    status: Status
    source: str


@dataclass(frozen=True)
class ScreeningKnowledge:
    rules: tuple[RuleText, ...]
    indications: tuple[Indication, ...]
    prior_treatments: tuple[PriorTreatment, ...]
    allergens: tuple[Allergen, ...]
    interactions: tuple[Interaction, ...]
    conditions: tuple[Condition, ...]
    counselling: tuple[CounsellingPoint, ...]

    def rule(self, rule_id: str) -> RuleText:
        return next(r for r in self.rules if r.id == rule_id)

    def indication(self, indication_id: str) -> Indication:
        return next(i for i in self.indications if i.id == indication_id)

    def condition(self, condition_id: str) -> Condition | None:
        return next((c for c in self.conditions if c.id == condition_id), None)


RULE_IDS = {
    "age_under_12", "minor", "pregnant", "breastfeeding", "pregnancy_potential_unknown",
    "can_become_pregnant", "indication_off_label", "no_failed_oral_antibiotic",
    "second_course_too_soon", "no_safe_product", "uk_assessment_before_start",
    "allergy_not_recognised", "medicine_not_recognised", "history_not_recognised",
    "us_enrolment", "no_failed_topical", "pregnancy_potential_contradiction",
}  # fmt: skip


@cache
def load_screening() -> ScreeningKnowledge:
    """Load and validate screening.toml (once per process)."""
    where = "screening.toml"
    data = read_toml(where)
    tables = {
        "rule": RuleText, "indication": Indication, "prior_treatment": PriorTreatment,
        "allergen": Allergen, "interaction": Interaction, "condition": Condition,
        "counselling": CounsellingPoint,
    }  # fmt: skip
    unknown = set(data) - set(tables)
    if unknown:
        raise KnowledgeError(f"{where}: unknown table {sorted(unknown)[0]!r}")
    knowledge = ScreeningKnowledge(
        rules=entries(data, "rule", RuleText, where=where),
        indications=entries(data, "indication", Indication, where=where),
        prior_treatments=entries(data, "prior_treatment", PriorTreatment, where=where),
        allergens=entries(data, "allergen", Allergen, where=where),
        interactions=entries(data, "interaction", Interaction, where=where),
        conditions=entries(data, "condition", Condition, where=where),
        counselling=entries(data, "counselling", CounsellingPoint, where=where),
    )
    _check(knowledge, where)
    return knowledge


def _check(knowledge: ScreeningKnowledge, where: str) -> None:
    rule_ids = {r.id for r in knowledge.rules}
    if rule_ids != RULE_IDS:
        raise KnowledgeError(
            f"{where}: [[rule]] ids must be exactly the checks the code makes; "
            f"missing {sorted(RULE_IDS - rule_ids)}, unknown {sorted(rule_ids - RULE_IDS)}"
        )
    diagnoses = {d.slug for d in load_codes().diagnoses}
    for indication in knowledge.indications:
        if indication.code not in diagnoses:
            raise KnowledgeError(f"{where}: indication {indication.id}: unknown code slug")
    for table in (knowledge.allergens, knowledge.interactions, knowledge.conditions):
        ids = [e.id for e in table]
        if len(set(ids)) != len(ids):
            raise KnowledgeError(f"{where}: duplicate id among {ids}")
        for lexical in table:
            if not lexical.terms or any(not normalise(t) for t in lexical.terms):
                raise KnowledgeError(
                    f"{where}: {lexical.id}: every term must have a letter or digit"
                )
