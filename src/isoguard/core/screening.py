"""Screening: is isotretinoin right for this patient, and which products are safe for them?

`screen()` reads what the prescriber entered (a `ScreeningInput`) and returns every finding,
never only the first, with the products that remain safe and why each other one was excluded.
The wording and source of every finding live in `knowledge/screening.toml`; this module decides
when each applies. An input it cannot match is reported for review by hand, never ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from isoguard.core.knowledge.codes import load_codes
from isoguard.core.knowledge.loading import Status
from isoguard.core.knowledge.products import Excipient, ProductInfo, load_catalogue
from isoguard.core.knowledge.screening_data import (
    Allergen,
    Condition,
    CounsellingPoint,
    Interaction,
    RuleText,
    ScreeningKnowledge,
    Severity,
    load_screening,
    normalise,
)
from isoguard.core.model import PatientFacts
from isoguard.core.vocabulary import Jurisdiction, Product


class Outcome(StrEnum):
    ELIGIBLE = "eligible"
    ELIGIBLE_WITH_CAUTIONS = "eligible_with_cautions"
    NOT_ELIGIBLE = "not_eligible"


@dataclass(frozen=True)
class MedicineInput:
    name: str
    rxnorm: str | None = None


@dataclass(frozen=True)
class ScreeningInput:
    """What the prescriber knows about the patient on `as_of`."""

    as_of: dt.date
    birth_date: dt.date
    jurisdiction: Jurisdiction
    diagnosis: str
    failed_treatments: tuple[str, ...] = ()
    pregnant: bool = False
    breastfeeding: bool = False
    can_become_pregnant: bool | None = None
    allergies: tuple[str, ...] = ()
    medicines: tuple[MedicineInput, ...] = ()
    history: tuple[str, ...] = ()
    """Condition ids of screening.toml, or the patient's own words."""
    previous_course_last_dose: dt.date | None = None


@dataclass(frozen=True)
class ScreeningFinding:
    id: str
    severity: Severity
    message: str
    action: str
    status: Status
    source: str
    matched: str = ""
    """The input that triggered the finding, so the prescriber sees why."""


@dataclass(frozen=True)
class StrengthOption:
    mg: int
    status: Status
    rxcui: str | None = None
    """The RxNorm clinical drug, for generic capsules (codes.toml)."""


@dataclass(frozen=True)
class ProductOption:
    slug: Product
    name: str
    dosing_family: str
    with_food: bool
    food_note: str
    status: Status
    strengths: tuple[StrengthOption, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProductExclusion:
    slug: Product
    name: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ScreeningResult:
    outcome: Outcome
    findings: tuple[ScreeningFinding, ...]
    safe_products: tuple[ProductOption, ...]
    excluded_products: tuple[ProductExclusion, ...]
    counselling: tuple[CounsellingPoint, ...]
    age: int

    def to_dict(self) -> dict[str, object]:
        """Return the result as JSON-ready data (the CLI's and the API's output)."""
        return {
            "outcome": self.outcome.value,
            "age": self.age,
            "findings": [
                {"id": f.id, "severity": f.severity.value, "message": f.message,
                 "action": f.action, "status": f.status.value, "source": f.source,
                 "matched": f.matched}
                for f in self.findings
            ],
            "safe_products": [
                {"product": p.slug.value, "name": p.name, "dosing_family": p.dosing_family,
                 "with_food": p.with_food, "food_note": p.food_note, "status": p.status.value,
                 "strengths": [{"mg": s.mg, "status": s.status.value, "rxcui": s.rxcui}
                               for s in p.strengths],
                 "notes": list(p.notes)}
                for p in self.safe_products
            ],
            "excluded_products": [
                {"product": p.slug.value, "name": p.name, "reasons": list(p.reasons)}
                for p in self.excluded_products
            ],
            "counselling": [
                {"id": c.id, "message": c.message, "status": c.status.value, "source": c.source}
                for c in self.counselling
            ],
        }  # fmt: skip


class OverrideError(ValueError):
    """A severity override names an unknown entry, or one the sources confirm."""


@dataclass
class _Screening:
    """The state of one screening while the checks run."""

    given: ScreeningInput
    knowledge: ScreeningKnowledge
    overrides: Mapping[str, Severity]
    findings: list[ScreeningFinding] = field(default_factory=list)
    excluded_excipients: dict[Excipient, str] = field(default_factory=dict)
    """Excipients no product may contain, with the allergy that excludes them."""

    def add_rule(self, rule_id: str, *, matched: str = "", message: str | None = None) -> None:
        rule = self.knowledge.rule(rule_id)
        severity = self.severity(f"rule:{rule.id}", rule)
        self.findings.append(
            ScreeningFinding(
                id=rule.id, severity=severity, message=message or rule.message,
                action=rule.action, status=rule.status, source=rule.source, matched=matched,
            )
        )  # fmt: skip

    def add_entry(self, kind: str, entry: Allergen | Interaction | Condition, matched: str) -> None:
        severity = self.severity(f"{kind}:{entry.id}", entry)
        status = entry.status
        if self.given.jurisdiction in entry.severity_in and entry.severity_in_status is not None:
            status = entry.severity_in_status
        if kind == "allergen" and isinstance(entry, Allergen) and entry.excipients:
            if severity == Severity.CONTRAINDICATION:
                for excipient in entry.excipients:
                    self.excluded_excipients.setdefault(excipient, entry.label)
            # The allergy excludes products, not isotretinoin; no_safe_product says if none is left.
            severity = Severity.CAUTION
        self.findings.append(
            ScreeningFinding(
                id=f"{kind}:{entry.id}", severity=severity, message=entry.message,
                action=entry.action, status=status, source=entry.source, matched=matched,
            )
        )  # fmt: skip

    def severity(self, key: str, entry: RuleText | Allergen | Interaction | Condition) -> Severity:
        by_place: dict[Jurisdiction, Severity] = getattr(entry, "severity_in", {})
        if key in self.overrides and (
            entry.status != Status.CONFIRMED or self.given.jurisdiction in by_place
        ):
            # A confirmed entry keeps its severity; only its unconfirmed country part may change.
            return self.overrides[key]
        return Severity(by_place.get(self.given.jurisdiction, entry.severity))


def screen(
    given: ScreeningInput, *, overrides: Mapping[str, Severity | str] | None = None
) -> ScreeningResult:
    """Return the outcome, every finding, and the safe and excluded products for `given`.

    `overrides` maps an entry key (`rule:breastfeeding`, `allergen:peanut`,
    `interaction:tetracyclines`, `condition:liver_disease`) to another severity; only entries the
    sources do not confirm may be overridden.
    """
    knowledge = load_screening()
    state = _Screening(given, knowledge, checked_overrides(overrides or {}))
    age = PatientFacts(given.birth_date, given.can_become_pregnant).age_on(given.as_of)
    _check_patient(state, age)
    _check_indication(state)
    _check_allergies(state)
    _check_medicines(state)
    _check_history(state)
    safe, excluded = _products(state)
    if not safe:
        state.add_rule("no_safe_product")
    findings = tuple(state.findings)
    severities = {f.severity for f in findings}
    if Severity.CONTRAINDICATION in severities:
        outcome = Outcome.NOT_ELIGIBLE
    elif Severity.CAUTION in severities:
        outcome = Outcome.ELIGIBLE_WITH_CAUTIONS
    else:
        outcome = Outcome.ELIGIBLE
    return ScreeningResult(outcome, findings, safe, excluded, knowledge.counselling, age)


def checked_overrides(overrides: Mapping[str, Severity | str]) -> dict[str, Severity]:
    """Return the overrides as severities, or raise OverrideError naming the bad one."""
    knowledge = load_screening()
    entries: dict[str, RuleText | Allergen | Interaction | Condition] = {
        **{f"rule:{r.id}": r for r in knowledge.rules},
        **{f"allergen:{a.id}": a for a in knowledge.allergens},
        **{f"interaction:{i.id}": i for i in knowledge.interactions},
        **{f"condition:{c.id}": c for c in knowledge.conditions},
    }
    checked: dict[str, Severity] = {}
    for key, value in overrides.items():
        entry = entries.get(key)
        if entry is None:
            raise OverrideError(f"screening override {key!r}: no such entry")
        unconfirmed_part = getattr(entry, "severity_in_status", None) not in (
            None,
            Status.CONFIRMED,
        )
        if entry.status == Status.CONFIRMED and not unconfirmed_part:
            raise OverrideError(
                f"screening override {key!r}: the sources confirm this entry; it cannot change"
            )
        try:
            checked[key] = Severity(value)
        except ValueError:
            allowed = ", ".join(s.value for s in Severity)
            raise OverrideError(
                f"screening override {key!r}: {value!r} is not one of {allowed}"
            ) from None
    return checked


def _check_patient(state: _Screening, age: int) -> None:
    given = state.given
    if age < 12:
        state.add_rule("age_under_12", matched=f"age {age}")
    elif age < 18:
        state.add_rule("minor", matched=f"age {age}")
    if given.pregnant:
        state.add_rule("pregnant")
        if given.can_become_pregnant is False:
            state.add_rule("pregnancy_potential_contradiction")
    if given.breastfeeding:
        state.add_rule("breastfeeding")
    if given.can_become_pregnant is None:
        state.add_rule("pregnancy_potential_unknown")
    elif given.can_become_pregnant:
        state.add_rule("can_become_pregnant")
    if given.previous_course_last_dose is not None:
        weeks = state.knowledge.rule("second_course_too_soon").weeks or 8
        first_allowed = given.previous_course_last_dose + dt.timedelta(weeks=weeks)
        if given.as_of < first_allowed:
            rule = state.knowledge.rule("second_course_too_soon")
            state.add_rule(
                "second_course_too_soon",
                matched=f"last dose {given.previous_course_last_dose.isoformat()}",
                message=f"{rule.message} First allowed start: {first_allowed.isoformat()}.",
            )
    for rule_id in ("uk_assessment_before_start", "us_enrolment"):
        if given.jurisdiction in state.knowledge.rule(rule_id).jurisdictions:
            state.add_rule(rule_id)


def _check_indication(state: _Screening) -> None:
    indication = state.knowledge.indication(state.given.diagnosis)
    if not indication.on_label:
        state.add_rule("indication_off_label", matched=indication.label)
    tried = [t for t in state.knowledge.prior_treatments if t.id in state.given.failed_treatments]
    if not any(t.oral_antibiotic for t in tried):
        state.add_rule("no_failed_oral_antibiotic")
    topical_rule = state.knowledge.rule("no_failed_topical")
    if state.given.jurisdiction in topical_rule.jurisdictions and not any(t.topical for t in tried):
        state.add_rule("no_failed_topical")


# A whole line that says there is nothing to report.
NOTHING = {
    "none", "nil", "n a", "na", "no", "nothing", "nkda", "nka", "nkfa", "no known allergies",
    "no known drug allergies", "no allergies", "no medicines", "no medications", "none known",
    "no history", "no relevant history", "no past medical history",
}  # fmt: skip
# A part that says something does not apply: it is read by a person, never matched.
NEGATION_CUES = {"no", "not", "denies", "denied", "never", "without", "negative", "non", "nil"}
# Commas between digits ("10,000 IU") and slashes (combination products) do not separate.
SEPARATORS = re.compile(r"(?<![0-9]),|,(?![0-9])|[;+&]|\b(?:and|also|plus)\b", re.IGNORECASE)

E = TypeVar("E", Allergen, Interaction, Condition)


@dataclass(frozen=True)
class _Reading(Generic[E]):
    """What one line of free text says: the entries it names, and the parts a person must read."""

    hits: list[tuple[E, str]]
    reviews: list[tuple[str, str]]
    """(the part, why it needs a person)"""


def _read(line: str, entries: tuple[E, ...]) -> _Reading[E]:
    """Split a line into parts ("minocycline, also clindamycin gel") and match each part."""
    hits: list[tuple[E, str]] = []
    reviews: list[tuple[str, str]] = []
    if normalise(line) in NOTHING:
        return _Reading(hits, reviews)
    for part in (p.strip() for p in SEPARATORS.split(line)):
        words = normalise(part).split()
        if not words:
            continue
        if words[0] in NEGATION_CUES:
            reviews.append(
                (part, f"“{part}” reads as a negation, so it was not matched: confirm by hand")
            )
            continue
        found = False
        for entry in entries:
            term, excluded = entry.match(part)
            if term is None:
                continue
            if excluded is not None:
                reviews.append(
                    (
                        part,
                        f"“{part}” mentions {term} but also “{excluded}”, so it "
                        "was not matched: check it by hand",
                    )
                )
            else:
                hits.append((entry, part))
            found = True
        if not found:
            reviews.append((part, ""))
    return _Reading(hits, reviews)


def _add_reviews(state: _Screening, rule_id: str, reviews: list[tuple[str, str]]) -> None:
    rule = state.knowledge.rule(rule_id)
    for part, why in reviews:
        message = f"{rule.message} ({why}.)" if why else rule.message
        state.add_rule(rule_id, matched=part, message=message)


def _check_allergies(state: _Screening) -> None:
    for allergy in state.given.allergies:
        reading = _read(allergy, state.knowledge.allergens)
        for allergen, part in reading.hits:
            state.add_entry("allergen", allergen, part)
        _add_reviews(state, "allergy_not_recognised", reading.reviews)


def _check_medicines(state: _Screening) -> None:
    applies = state.given.can_become_pregnant is not False  # unknown counts as able (safer)
    for medicine in state.given.medicines:
        by_code = [
            i for i in state.knowledge.interactions
            if medicine.rxnorm and medicine.rxnorm in {c.rxcui for c in i.codes}
        ]  # fmt: skip
        reading = (
            _Reading([(i, medicine.name) for i in by_code], [])
            if by_code
            else _read(medicine.name, state.knowledge.interactions)
        )
        for interaction, part in reading.hits:
            if applies or not interaction.applies_when_can_become_pregnant:
                state.add_entry("interaction", interaction, part)
        _add_reviews(state, "medicine_not_recognised", reading.reviews)


def _check_history(state: _Screening) -> None:
    for item in state.given.history:
        by_id = state.knowledge.condition(item)
        if by_id is not None:
            state.add_entry("condition", by_id, by_id.label)
            continue
        reading = _read(item, state.knowledge.conditions)
        for condition, part in reading.hits:
            state.add_entry("condition", condition, part)
        _add_reviews(state, "history_not_recognised", reading.reviews)


def _products(state: _Screening) -> tuple[tuple[ProductOption, ...], tuple[ProductExclusion, ...]]:
    safe: list[ProductOption] = []
    excluded: list[ProductExclusion] = []
    for product in load_catalogue().products:
        reasons, strengths, notes = _assess(state, product)
        if reasons or not strengths:
            excluded.append(ProductExclusion(product.slug, product.name, tuple(reasons or notes)))
            continue
        safe.append(
            ProductOption(
                slug=product.slug, name=product.name, dosing_family=product.dosing_family,
                with_food=product.with_food, food_note=product.food_note, status=product.status,
                strengths=tuple(strengths), notes=tuple(notes),
            )
        )  # fmt: skip
    return tuple(safe), tuple(excluded)


def _assess(
    state: _Screening, product: ProductInfo
) -> tuple[list[str], list[StrengthOption], list[str]]:
    """Return why the whole product is excluded, its safe strengths, and notes on the rest."""
    reasons: list[str] = []
    notes: list[str] = []
    if state.given.jurisdiction not in product.markets:
        where = state.given.jurisdiction.value
        unmarketed = f". {product.note}" if not product.markets and product.note else ""
        reasons.append(f"not marketed in the {where}{unmarketed}")
    codes = load_codes()
    generic = product.slug == Product.ISOTRETINOIN
    strengths = [
        StrengthOption(s.mg, s.status, codes.capsule_rxcui(s.mg) if generic else None)
        for s in product.strengths
    ]
    for excipient in product.excipients:
        allergy = state.excluded_excipients.get(excipient.slug)
        if allergy is None:
            continue
        contains = (
            "contains"
            if excipient.status == Status.CONFIRMED
            else f"may contain ({excipient.status.value})"
        )
        what = excipient.slug.value.replace("_", " ")
        if not excipient.strengths:
            reasons.append(f"{contains} {what}: the patient is allergic to {allergy}")
            continue
        strengths = [s for s in strengths if not excipient.in_strength(s.mg)]
        listed = ", ".join(f"{mg} mg" for mg in excipient.strengths)
        notes.append(f"{listed} excluded: {contains} {what}; the patient is allergic to {allergy}")
    if product.note and product.markets:
        notes.append(product.note)
    unconfirmed = [f"{s.mg} mg" for s in strengths if s.status != Status.CONFIRMED]
    if unconfirmed:
        notes.append(f"strengths not seen in a cited source: {', '.join(unconfirmed)}")
    return reasons, strengths, notes
