"""The CDS services: which draft order is isotretinoin, whose patient it is, and the cards.

isoguard's own record is the source of truth for the programme and the screening. From the EHR it
takes the draft order (context), the Patient (prefetch `patient`: to find isoguard's patient by
identifier, within the clinic configured for the EHR's issuer) and, for an order, the patient's
active MedicationRequests (prefetch `medications`: checked for interactions, as they may be newer
than isoguard's screening). `pregnancyTests` is asked for but not used yet.

When the EHR leaves a prefetch key out, the data is read from its FHIR server if the call carries
`fhirServer` and `fhirAuthorization` and that server is allow-listed for the issuer
(fhirserver.py). The Patient is required: if it cannot be had (sent as null, no server, a server
not allow-listed, or a read that failed) the answer is 412 with an OperationOutcome saying why,
as the spec asks. The medicines are not: when they cannot be had the other cards are still given,
with a warning card saying the EHR's medication list could not be read (if a read failed).

The cards, most urgent first: the programme's requirements (programme_cards), the screening's
contraindications and cautions and the EHR medicines' interactions (screening_cards.py), and the
planned dose with a suggestion that updates the draft order (dose_card).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from pydantic import BaseModel, ValidationError

from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.core import model
from isoguard.core.knowledge.codes import load_codes
from isoguard.core.knowledge.products import load_catalogue
from isoguard.core.programs.packs import load_pack
from isoguard.core.screening import MedicineInput
from isoguard.core.screening import Outcome as ScreeningOutcome
from isoguard.core.vocabulary import Action as EngineAction
from isoguard.courses.dosing_selectors import dose_plan_in_force
from isoguard.courses.models import Course, DosePlan
from isoguard.courses.programme_services import engine_decision
from isoguard.interop.cdshooks import screening_cards
from isoguard.interop.cdshooks.auth import Client
from isoguard.interop.cdshooks.cards import (
    INDICATOR_ORDER,
    Action,
    Card,
    CardsResponse,
    FeedbackRequest,
    HookRequest,
    Link,
    OrderSelectContext,
    OrderSignContext,
    PatientViewContext,
    Suggestion,
    dump,
    new_card,
)
from isoguard.interop.cdshooks.fhirserver import EhrData, Unavailable
from isoguard.interop.cdshooks.models import CardFeedback
from isoguard.interop.outcome import RXNORM, UCUM, operation_outcome
from isoguard.patients.models import Patient
from isoguard.screenings.models import Screening


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    title: str
    description: str
    context: type[PatientViewContext]

    def prefetch(self) -> dict[str, str]:
        return PREFETCH


def _pregnancy_codes() -> str:
    return ",".join(f"http://loinc.org|{c.loinc}" for c in load_codes().pregnancy_tests)


PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
    "pregnancyTests": "Observation?patient={{context.patientId}}&code=" + _pregnancy_codes()
    + "&_sort=-date&_count=5",
}  # fmt: skip

SERVICES = {
    s.id: s
    for s in (
        Service(
            "isoguard-order-sign", "order-sign", "isoguard: isotretinoin programme check",
            "Before an isotretinoin prescription is signed: whether the programme's requirements"
            " (iPLEDGE and others) are met, and the dose the course's plan sets.",
            OrderSignContext,
        ),
        Service(
            "isoguard-order-select", "order-select", "isoguard: isotretinoin programme check",
            "When isotretinoin is selected: what the programme still requires before the"
            " prescription may be written, and the planned dose.",
            OrderSelectContext,
        ),
        Service(
            "isoguard-patient-view", "patient-view", "isoguard: isotretinoin programme status",
            "For a patient enrolled in isoguard: whether the next isotretinoin prescription"
            " may be written, and what is missing.",
            PatientViewContext,
        ),
    )
}  # fmt: skip


class HookError(Exception):
    """An answer other than 200: the HTTP status and an OperationOutcome."""

    def __init__(self, status: int, code: str, message: str, expression: str | None = None):
        super().__init__(message)
        self.status = status
        self.outcome = operation_outcome(code, message, expression)


def discovery() -> dict[str, Any]:
    return {
        "services": [
            {"hook": s.hook, "title": s.title, "description": s.description, "id": s.id,
             "prefetch": s.prefetch()}
            for s in SERVICES.values()
        ]
    }  # fmt: skip


def parsed(model_class: type[BaseModel], data: Any, prefix: str = "") -> Any:
    """Validate `data`; a problem is a 400 OperationOutcome naming the first field at fault."""
    try:
        return model_class.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join([prefix] * bool(prefix) + [str(part) for part in first["loc"]])
        kind = "required" if first["type"] == "missing" else "invalid"
        message = f"{where or 'body'}: {'is required' if kind == 'required' else first['msg']}"
        raise HookError(400, kind, message, where or None) from None


# Finding the isotretinoin order ----------------------------------------------------------------


@cache
def _isotretinoin_words() -> tuple[str, ...]:
    names = {p.name.lower() for p in load_catalogue().products} | {"isotretinoin"}
    return tuple(sorted(n for n in names if "(" not in n))


@cache
def _isotretinoin_rxcuis() -> frozenset[str]:
    return frozenset(c.rxcui for c in load_codes().drugs)


def _is_isotretinoin(concept: Mapping[str, Any] | None) -> bool:
    if not isinstance(concept, Mapping):
        return False
    texts = [str(concept.get("text") or "")]
    for coding in concept.get("coding") or []:
        if not isinstance(coding, Mapping):
            continue
        if coding.get("system") == RXNORM and str(coding.get("code")) in _isotretinoin_rxcuis():
            return True
        texts.append(str(coding.get("display") or ""))
    text = " ".join(texts).lower()
    return any(re.search(rf"\b{re.escape(word)}\b", text) for word in _isotretinoin_words())


def _medication_concept(request: Mapping[str, Any], bundle: Iterable[Any]) -> Any:
    if "medicationCodeableConcept" in request:
        return request["medicationCodeableConcept"]
    reference = request.get("medicationReference")
    ref = str(reference.get("reference") or "") if isinstance(reference, Mapping) else ""
    if ref.startswith("#"):
        for contained in request.get("contained") or []:
            if isinstance(contained, Mapping) and contained.get("id") == ref[1:]:
                return contained.get("code")
    for resource in bundle:
        if (
            resource.get("resourceType") == "Medication"
            and ref == f"Medication/{resource.get('id')}"
        ):
            return resource.get("code")
    return None


def isotretinoin_order(context: OrderSignContext) -> dict[str, Any] | None:
    """Return the (first) draft MedicationRequest for isotretinoin, or None."""
    resources = [e.get("resource") for e in context.draftOrders.entry if isinstance(e, Mapping)]
    resources = [r for r in resources if isinstance(r, dict)]
    selected = set(getattr(context, "selections", None) or [])
    for resource in resources:
        if resource.get("resourceType") != "MedicationRequest":
            continue
        if selected and f"MedicationRequest/{resource.get('id')}" not in selected:
            continue
        if _is_isotretinoin(_medication_concept(resource, resources)):
            return resource
    return None


# Finding the patient ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    patient: Patient | None
    why: str = ""


def ehr_patient(ehr: EhrData, context: PatientViewContext) -> dict[str, Any]:
    """The EHR's Patient, prefetched or read from its FHIR server; 412 if it cannot be had."""
    where = "prefetch.patient"
    try:
        data = ehr.get("patient")
    except Unavailable as error:
        raise HookError(
            412, error.code, f"{error}; isoguard needs the Patient to find the patient", where
        ) from None
    resource = data.value
    if resource is not None and not isinstance(resource, dict):
        raise HookError(400, "invalid", "prefetch.patient must be a Patient or null", where)
    if resource is None:
        raise HookError(
            412, "not-found",
            "prefetch.patient is null: the EHR has no Patient for context.patientId, so isoguard"
            " cannot find the patient",
            where,
        )  # fmt: skip
    if resource.get("resourceType") != "Patient" or resource.get("id") != context.patientId:
        if data.origin == "server":
            raise HookError(
                412, "exception",
                f"the EHR's FHIR server answered Patient/{context.patientId} with another"
                " resource than that Patient",
                where,
            )  # fmt: skip
        raise HookError(
            400, "invalid", "prefetch.patient is not the Patient of context.patientId", where
        )
    return resource


def ehr_medicines(bundle: Mapping[str, Any], order: Mapping[str, Any]) -> list[MedicineInput]:
    """The EHR's active medicines other than isotretinoin, as lines for the core's screening.

    Each MedicationRequest gives its text and each coding's display (the EHR's text may be a local
    abbreviation the display spells out), with its RxNorm code: the core matches the code first,
    then the words.
    """
    entries = [e.get("resource") for e in bundle.get("entry") or [] if isinstance(e, Mapping)]
    resources: list[Mapping[str, Any]] = [r for r in entries if isinstance(r, Mapping)]
    medicines: list[MedicineInput] = []
    for resource in resources:
        if resource.get("resourceType") != "MedicationRequest":
            continue
        if resource.get("status") not in (None, "active", "on-hold"):
            continue
        if order.get("id") and resource.get("id") == order.get("id"):
            continue
        concept = _medication_concept(resource, resources)
        if not isinstance(concept, Mapping) or _is_isotretinoin(concept):
            continue
        codings = [c for c in concept.get("coding") or [] if isinstance(c, Mapping)]
        rxnorm = next(
            (str(c["code"]) for c in codings if c.get("system") == RXNORM and c.get("code")), None
        )
        names = [concept.get("text")] + [c.get("display") for c in codings]
        lines = dict.fromkeys(str(n).strip() for n in names if n and str(n).strip())
        if not lines and rxnorm:
            lines = {f"RxNorm {rxnorm}": None}
        medicines.extend(MedicineInput(line, rxnorm) for line in lines)
    return medicines


def medication_cards(
    ehr: EhrData,
    patient: Patient,
    order: Mapping[str, Any],
    screening: Screening | None,
    url: str,
) -> tuple[list[Card], set[str]]:
    """Cards for the EHR's medicines that interact, and the finding ids they cover.

    Medicines the EHR did not prefetch and isoguard may not read are not checked (the audit says
    why); a read that failed gives a warning card, since the EHR's list may hold an interaction.
    """
    where = "prefetch.medications"
    try:
        data = ehr.get("medications", patient_id=patient.pk)
    except Unavailable as error:
        if not error.tried:
            return [], set()
        card = new_card(
            "warning", "isoguard could not read the EHR's medication list to check interactions",
            url, f"{error}. The interactions of the EHR's current medicines were not checked;"
            " check them against isoguard's screening by hand.",
        )  # fmt: skip
        return [card], set()
    if data.value is None:
        return [], set()
    if not isinstance(data.value, dict) or data.value.get("resourceType") != "Bundle":
        raise HookError(400, "invalid", f"{where} must be a Bundle or null", where)
    found = screening_cards.ehr_interactions(patient, ehr_medicines(data.value, order))
    cards = screening_cards.interaction_cards(found, url, screening)
    return cards, {f.id for f in found}


def patient_match(client: Client, resource: Mapping[str, Any]) -> Match:
    """Find isoguard's patient by the EHR's identifier, in the clinic configured for the EHR."""
    issuer = client.issuer
    if issuer.clinic_id is None:
        return Match(None, "no clinic is configured for this EHR in isoguard")
    values = {
        str(i.get("value"))
        for i in resource.get("identifier") or []
        if isinstance(i, Mapping)
        and i.get("value")
        and (issuer.identifier_system is None or i.get("system") == issuer.identifier_system)
    }
    found = list(
        Patient.objects.filter(clinic_id=issuer.clinic_id, clinic_record_number__in=values)[:2]
    )
    if not found:
        return Match(None, "no patient of the clinic has this record number")
    if len(found) > 1:
        return Match(None, "more than one patient of the clinic matches the identifiers")
    patient = found[0]
    birth = resource.get("birthDate")
    if birth and birth != patient.birth_date.isoformat():
        return Match(None, "the record number matches but the birth date differs")
    return Match(patient)


def current_course(patient: Patient) -> Course | None:
    return patient.courses.order_by("-number").first()


# Cards -------------------------------------------------------------------------------------------


def _programme_name(pack: str) -> str:
    title = load_pack(pack).header.title
    return "iPLEDGE" if title.startswith("iPLEDGE") else title.split(",")[0]


def programme_cards(decision: model.Decision, url: str | None) -> list[Card]:
    """One critical card per unmet requirement; an info card when every one is met."""
    name = _programme_name(decision.pack)
    if decision.allowed:
        return [
            new_card(
                "info", f"{name} requirements met; the prescription may be written", url,
                f"Every element to assure safe use that {name} ({decision.pack}) checks before"
                " a prescription is met today.",
            )
        ]  # fmt: skip
    cards = []
    for finding in decision.findings:
        if finding.status == "met":
            continue
        deadline = f"\n\nBy: {finding.deadline.isoformat()}" if finding.deadline else ""
        cards.append(
            new_card(
                "critical", f"{name} not met ({finding.rule}): {finding.message}", url,
                f"**{name} requirement `{finding.rule}`** ({finding.status}): {finding.message}"
                f"{deadline}\n\nElement to assure safe use (REMS). Source: {finding.source}",
                links=[Link(label="Open the programme page in isoguard", url=url,
                            type="absolute")] if url else None,
            )
        )  # fmt: skip
    return cards


def planned_dosage(plan: DosePlan, with_food: bool) -> list[dict[str, Any]]:
    """The plan's morning and evening doses as R4 Dosage elements."""
    meal = "with food" if with_food else "with or without food"
    return [
        {
            "sequence": number, "text": f"{mg} mg by mouth in the {when}, {meal}",
            "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d",
                                  "when": [code]}},
            "route": {"coding": [{"system": "http://snomed.info/sct", "code": "26643006",
                                  "display": "Oral route"}]},
            "doseAndRate": [{"doseQuantity": {"value": mg, "unit": "mg", "system": UCUM,
                                              "code": "mg"}}],
        }
        for number, (when, code, mg) in enumerate(
            (("morning", "CM" if with_food else "MORN", plan.morning_mg),
             ("evening", "CV" if with_food else "EVE", plan.evening_mg)), start=1)
    ]  # fmt: skip


def ordered_daily_mg(order: Mapping[str, Any]) -> float | None:
    """The daily dose in mg the draft order asks for, or None if it cannot be read."""
    try:
        return _ordered_daily_mg(order)
    except (AttributeError, TypeError, ValueError, KeyError, ZeroDivisionError):
        return None


def _ordered_daily_mg(order: Mapping[str, Any]) -> float | None:
    total = 0.0
    dosages = order.get("dosageInstruction") or []
    for dosage in dosages:
        repeat = (dosage.get("timing") or {}).get("repeat") or {}
        if repeat.get("periodUnit", "d") != "d":
            return None
        per_day = repeat.get("frequency", 1) / repeat.get("period", 1)
        doses = [d.get("doseQuantity") for d in dosage.get("doseAndRate") or []]
        if len(doses) != 1 or not doses[0] or doses[0].get("unit", doses[0].get("code")) != "mg":
            return None
        total += float(doses[0]["value"]) * per_day
    return total if dosages else None


def dose_card(course: Course, order: dict[str, Any], url: str | None) -> Card | None:
    """A card with the planned dose, suggesting to update the draft order to it if it differs."""
    today = timezone.localdate()
    plan = dose_plan_in_force(course, today) or (
        course.dose_plans.filter(effective_from__gt=today).order_by("effective_from").first()
    )
    if plan is None:
        return None
    product = load_catalogue().product(course.product)
    planned = f"{plan.morning_mg} mg morning + {plan.evening_mg} mg evening"
    ordered = ordered_daily_mg(order)
    if ordered is not None and abs(ordered - plan.daily_mg) < 0.5:
        return new_card("info", f"Dose matches isoguard's plan: {planned} ({plan.daily_mg} mg/day)",
                     url)  # fmt: skip
    updated = copy.deepcopy(order)
    updated["dosageInstruction"] = planned_dosage(plan, product.with_food)
    try:
        from fhir.resources.R4B.medicationrequest import MedicationRequest

        MedicationRequest.model_validate(updated)
    except (ValidationError, ValueError):
        return new_card(
            "warning", f"isoguard's planned dose is {planned} ({plan.daily_mg} mg/day)", url,
            "The draft order could not be updated automatically; change its dosage by hand.",
        )  # fmt: skip
    asked = f"{ordered:g} mg/day" if ordered is not None else "a dose isoguard cannot read"
    return new_card(
        "warning", f"Dose differs from isoguard's plan: {planned} ({plan.daily_mg} mg/day)", url,
        f"The order asks for {asked}; the course's plan from {plan.effective_from.isoformat()}"
        f" is {plan.daily_mg} mg a day ({plan.mg_per_kg_day} mg/kg at {plan.weight_kg} kg).",
        suggestions=[
            Suggestion(
                label=f"Use the planned dose: {planned}", uuid=str(uuid.uuid4()),
                isRecommended=True,
                actions=[Action(type="update", description=f"Set the dosage to {planned}",
                                resource=updated)],
            )
        ],
        selectionBehavior="at-most-one",
    )  # fmt: skip


def _absolute(base: str, name: str, pk: int) -> str:
    return base + reverse(name, args=[pk])


def invoke(service: Service, request: HookRequest, client: Client, base_url: str) -> dict[str, Any]:
    """Answer one hook call with its cards (raising HookError for a 400 or 412)."""
    if request.hook != service.hook:
        raise HookError(400, "invalid", f"hook: this service answers {service.hook}", "hook")
    context = parsed(service.context, request.context, "context")
    order = None
    if isinstance(context, OrderSignContext):
        order = isotretinoin_order(context)
        if order is None:
            return _answer(service, request, client, [], None, "no isotretinoin order")
    ehr = EhrData(request, client, service.id, service.prefetch())
    try:
        return _invoke(service, request, client, base_url, context, order, ehr)
    finally:
        ehr.close()


def _invoke(
    service: Service,
    request: HookRequest,
    client: Client,
    base_url: str,
    context: PatientViewContext,
    order: dict[str, Any] | None,
    ehr: EhrData,
) -> dict[str, Any]:
    match = patient_match(client, ehr_patient(ehr, context))
    if match.patient is None:
        if order is None:  # patient-view of a patient isoguard does not follow: nothing to say
            return _answer(service, request, client, [], None, match.why, ehr=ehr)
        card = new_card(
            "warning", "Patient not enrolled in isoguard: its isotretinoin programme checks"
            " cannot be shown", base_url + "/",
            f"isoguard could not match this patient: {match.why}. Enrol the patient in isoguard"
            " (with the EHR's record number) before prescribing isotretinoin.",
        )  # fmt: skip
        return _answer(service, request, client, [card], None, match.why, ehr=ehr)
    patient = match.patient
    course = current_course(patient)
    screening = screening_cards.screening_for(patient)
    screening_url = screening_cards.screening_url(base_url, patient, screening)
    cards: list[Card] = []
    decision = None
    if course is None and screening is None:
        cards.append(screening_cards.not_screened_card(screening_url, course=False))
    elif course is None:
        advice = (
            "the screening found the patient not eligible"
            if screening.outcome == ScreeningOutcome.NOT_ELIGIBLE
            else "start one from the screening"
        )
        cards.append(
            new_card("warning", f"No isotretinoin course in isoguard for this patient: {advice}",
                  screening_url)
        )  # fmt: skip
    else:
        decision = engine_decision(course, EngineAction.PRESCRIBE, timezone.now())
        cards += programme_cards(decision, _absolute(base_url, "programme", course.pk))
        if screening is None and order is not None:
            cards.append(screening_cards.not_screened_card(screening_url, course=True))
    shown: set[str] = set()
    if order is not None:
        medicine_cards, shown = medication_cards(ehr, patient, order, screening, screening_url)
        cards += medicine_cards
    if screening is not None:
        cards += screening_cards.screening_cards(screening, screening_url, shown=shown)
    if order is not None and course is not None:
        card = dose_card(course, order, _absolute(base_url, "dose_plan", course.pk))
        if card is not None:
            cards.append(card)
    cards.sort(key=lambda c: INDICATOR_ORDER[c.indicator])  # stable: most urgent first
    why = "" if course is not None else "no course"
    return _answer(service, request, client, cards, patient, why, decision, ehr=ehr)


def _answer(
    service: Service,
    request: HookRequest,
    client: Client,
    cards: list[Card],
    patient: Patient | None,
    why: str,
    decision: model.Decision | None = None,
    *,
    ehr: EhrData | None = None,
) -> dict[str, Any]:
    body = dump(CardsResponse(cards=cards))
    audit_record(
        actor=None, action="cds_hook", object_type="cdshooks.service", object_id=service.id,
        patient_id=patient.pk if patient else None, reason=why,
        outcome=AuditEvent.Outcome.ALLOWED,
        detail={
            "issuer": client.issuer.iss, "jti": str(client.claims.get("jti")),
            "hook": request.hook, "hookInstance": request.hookInstance,
            "allowed": decision.allowed if decision else None,
            "data": ehr.origins if ehr else {},
            "cards": [{"uuid": c.uuid, "indicator": c.indicator} for c in cards],
        },
    )  # fmt: skip
    return body


def feedback_store(service: Service, data: Any, client: Client) -> list[CardFeedback]:
    """Keep each feedback entry (raising HookError for a malformed body)."""
    request = parsed(FeedbackRequest, data)
    with transaction.atomic():
        rows = []
        for item in request.feedback:
            reason = item.overrideReason.model_dump(mode="json", exclude_none=True) if (
                item.overrideReason) else None  # fmt: skip
            row = CardFeedback.objects.create(
                service_id=service.id, card_uuid=item.card[:64], outcome=item.outcome,
                accepted_suggestions=item.acceptedSuggestions or [], override_reason=reason,
                outcome_timestamp=item.outcomeTimestamp, issuer=client.issuer.iss[:300],
            )  # fmt: skip
            audit_record(
                actor=None, action="cds_feedback", obj=row,
                detail={"issuer": client.issuer.iss, "card": item.card, "outcome": item.outcome},
            )  # fmt: skip
            rows.append(row)
    return rows


def etasu_status(patient_id: int, client: Client, base_url: str) -> dict[str, Any]:
    """Whether the elements to assure safe use are met for the patient's next prescription."""
    patient = Patient.objects.filter(pk=patient_id, clinic_id=client.issuer.clinic_id).first()
    if patient is None or client.issuer.clinic_id is None:
        raise HookError(404, "not-found", "no such patient in the clinic of this EHR")
    course = current_course(patient)
    body: dict[str, Any] = {"patient": patient.pk, "course": None, "met": False,
                            "requirements": []}  # fmt: skip
    decision = None
    if course is not None:
        decision = engine_decision(course, EngineAction.PRESCRIBE, timezone.now())
        body.update(
            course=course.pk, pack=decision.pack, met=decision.allowed,
            url=_absolute(base_url, "programme", course.pk),
            requirements=[
                {"rule": f.rule, "met": f.status == "met", "status": str(f.status),
                 "message": f.message, "source": f.source,
                 "deadline": f.deadline.isoformat() if f.deadline else None}
                for f in decision.findings
            ],
        )  # fmt: skip
    body["checked_at"] = timezone.now().astimezone(dt.UTC).isoformat()
    audit_record(
        actor=None, action="rems_etasu", obj=patient, patient_id=patient.pk,
        detail={"issuer": client.issuer.iss, "met": body["met"]},
    )  # fmt: skip
    return body
