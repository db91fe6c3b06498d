"""Cards from isoguard's screening of the patient, and from the medicines the EHR lists.

The screening (screenings.Screening, the core's `ScreeningResult.to_dict()` in `result`) is the
patient's newest: one done after the course started says more about today. Its findings become
cards by severity (screening.toml says which finding has which, per country):

- a contraindication is a `critical` card;
- a caution (an interaction, a condition, or an entry the core could not match and a person must
  read) is a `warning` card, until the prescriber acknowledged the screening's cautions (which
  starting a course from it requires). Acknowledged cautions are then summed up in one `info`
  card rather than repeated as warnings: the prescriber has weighed each of them for this course,
  and warnings that come back at every monthly prescription are the alert fatigue that teaches
  people to override cards unread, the critical ones included. The info card keeps them visible
  and traceable (who acknowledged them, when, each message and source).
- an `info` finding (a minor, can become pregnant, register in iPLEDGE) is a note for the
  screening visit; it is not repeated in the EHR (the programme cards cover enrolment).

The EHR's active MedicationRequests (prefetch `medications`) may be newer than the screening, so
they are read with the screening's own medicine check: `core.screening.screen()` is run on them
(with the patient's birth date, country and pregnancy potential, and the clinic's severity
overrides) and its `interaction:` findings are kept, one card per interaction, with the EHR's
medicine names, the message, the action and the source screening.toml gives. Everything else that
run finds (the rules about the patient, and medicine names it cannot match, which would be every
medicine that does not interact) is not the EHR list's business and is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from isoguard.core.knowledge.screening_data import Severity, load_screening
from isoguard.core.screening import MedicineInput, ScreeningInput, screen
from isoguard.core.vocabulary import Jurisdiction
from isoguard.interop.cdshooks.cards import Card, Indicator, Link, new_card
from isoguard.patients.models import Patient
from isoguard.screenings.models import Screening

INDICATORS: dict[str, Indicator] = {
    Severity.CONTRAINDICATION.value: "critical",
    Severity.CAUTION.value: "warning",
}


def screening_for(patient: Patient) -> Screening | None:
    """The patient's newest screening: a screening done after the course started (one that found
    a pregnancy, say) says more about today than the one the course started from."""
    return patient.screenings.order_by("-performed_at", "-id").first()


def screening_url(base_url: str, patient: Patient, screening: Screening | None) -> str:
    """The screening's page in isoguard, or the page to screen the patient."""
    if screening is None:
        return base_url + reverse("screening_new", args=[patient.pk])
    return base_url + reverse("screening_detail", args=[screening.pk])


def _finding_detail(finding: dict[str, str], where: str) -> str:
    matched = f" (from “{finding['matched']}”)" if finding.get("matched") else ""
    action = f"\n\nAction: {finding['action']}" if finding.get("action") else ""
    return (
        f"**{finding.get('message', '')}**{action}\n\n{where}{matched}.\n\n"
        f"Source ({finding.get('status', 'unknown')}): {finding.get('source', '')}"
    )


def _link(url: str) -> list[Link]:
    return [Link(label="Open the screening in isoguard", url=url, type="absolute")]


def screening_cards(screening: Screening, url: str, *, shown: Iterable[str] = ()) -> list[Card]:
    """A card per contraindication and caution of the screening (see the module's docstring).

    `shown` are finding ids already on a card of the EHR's medicines: not repeated here.
    """
    shown = set(shown)
    where = f"Found by isoguard's screening of {screening.as_of.isoformat()}"
    cards: list[Card] = []
    acknowledged: list[dict[str, str]] = []
    for finding in screening.result.get("findings", []):
        indicator = INDICATORS.get(finding.get("severity", ""))
        if indicator is None:
            continue
        if indicator == "warning" and screening.cautions_acknowledged_at is not None:
            acknowledged.append(finding)
            continue
        if finding.get("id") in shown:
            continue
        kind = "contraindication" if indicator == "critical" else "caution"
        cards.append(
            new_card(
                indicator, f"Screening {kind}: {finding.get('message', '')}", url,
                _finding_detail(finding, where), links=_link(url),
            )
        )  # fmt: skip
    if acknowledged:
        assert screening.cautions_acknowledged_at is not None
        on = timezone.localtime(screening.cautions_acknowledged_at).date().isoformat()
        by = screening.cautions_acknowledged_by
        who = f" by {by.get_full_name() or by.get_username()}" if by else ""
        count = f"{len(acknowledged)} screening caution" + "s" * (len(acknowledged) > 1)
        items = "\n".join(
            f"- {f.get('message', '')}\n  Source ({f.get('status', '')}): {f.get('source', '')}"
            for f in acknowledged
        )
        cards.append(
            new_card(
                "info", f"{count} acknowledged{who} on {on} when the course started", url,
                f"{where}; acknowledged{who} on {on}, when the course was started from it:"
                f"\n\n{items}",
                links=_link(url),
            )
        )  # fmt: skip
    return cards


def not_screened_card(url: str, *, course: bool) -> Card:
    """A warning for a patient isoguard has never screened (merged with 'no course' if none)."""
    if course:
        text = "Not screened in isoguard: screen the patient before prescribing isotretinoin"
    else:
        text = "No isotretinoin course in isoguard and not screened: screen and enrol first"
    return new_card(
        "warning", text, url,
        "isoguard has no screening of this patient, so its contraindication, interaction and"
        " history checks have not been made. Screen the patient in isoguard.",
        links=[Link(label="Screen the patient in isoguard", url=url, type="absolute")],
    )  # fmt: skip


@dataclass(frozen=True)
class EhrInteraction:
    """An interaction screening.toml names, found among the EHR's active medicines."""

    id: str
    label: str
    severity: str
    message: str
    action: str
    status: str
    source: str
    medicines: tuple[str, ...]


def ehr_interactions(patient: Patient, medicines: Sequence[MedicineInput]) -> list[EhrInteraction]:
    """The interactions of the EHR's medicines for this patient, read by the core's screening."""
    if not medicines:
        return []
    knowledge = load_screening()
    potential = patient.pregnancy_potential_assessments.first()
    given = ScreeningInput(
        as_of=timezone.localdate(),
        birth_date=patient.birth_date,
        jurisdiction=Jurisdiction(patient.jurisdiction),
        diagnosis=knowledge.indications[0].id,  # any: only the medicine findings are kept
        can_become_pregnant=potential.can_become_pregnant if potential else None,
        medicines=tuple(medicines),
    )
    result = screen(given, overrides=settings.ISOGUARD_SCREENING_OVERRIDES)
    labels = {f"interaction:{i.id}": i.label for i in knowledge.interactions}
    found: dict[str, EhrInteraction] = {}
    for f in result.findings:
        if f.id not in labels or f.severity.value not in INDICATORS:
            continue
        known = found.get(f.id)
        names = (*known.medicines, f.matched) if known else (f.matched,)
        found[f.id] = EhrInteraction(
            id=f.id, label=labels[f.id], severity=f.severity.value, message=f.message,
            action=f.action, status=f.status.value, source=f.source,
            medicines=tuple(dict.fromkeys(names)),
        )  # fmt: skip
    return list(found.values())


def interaction_cards(
    interactions: Iterable[EhrInteraction], url: str, screening: Screening | None
) -> list[Card]:
    """One card per interaction of the EHR's medicines: critical or warning, as screening says."""
    screened = {
        f.get("id"): f for f in (screening.result.get("findings", []) if screening else [])
    }  # fmt: skip
    cards = []
    for found in interactions:
        names = ", ".join(f"“{m}”" for m in found.medicines)
        earlier = screened.get(found.id)
        if earlier is not None and screening is not None:
            also = (
                f" isoguard's screening of {screening.as_of.isoformat()} found it too"
                f" (from “{earlier.get('matched', '')}”)."
            )
        else:
            also = " isoguard's screening did not find it: the EHR's list may be newer."
        cards.append(
            new_card(
                INDICATORS[found.severity],
                f"Interaction with {found.label} (EHR medication list): {found.message}", url,
                f"**{found.message}**\n\nAction: {found.action}\n\nThe EHR's active medication"
                f" list has {names}.{also}\n\nSource ({found.status}): {found.source}",
                links=_link(url),
            )
        )  # fmt: skip
    return cards
