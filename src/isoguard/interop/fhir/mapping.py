"""Rows as FHIR R4 resources (fhir.resources R4B models), and a transaction Bundle read back.

One small function per resource type. Each builds a plain dict and validates it by constructing
the R4B model, so nothing leaves isoguard that fhir.resources would reject. Resource ids are
`<kind>-<primary key>` (`patient-12`, `rx-34`); `everything()` assembles a patient's record.

Codes come from the knowledge files: LOINC of pregnancy and monitoring tests and the RxNorm
ingredient from codes.toml, the UCUM units of labs.toml, the SNOMED answers of interop.md 2.1.
Where no standard code is known, a local `urn:isoguard:...` system names isoguard's own slugs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent as FhirConsent
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.medicationdispense import MedicationDispense
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError as PydanticValidationError

from isoguard.accounts.models import Organisation, User
from isoguard.core.dosing_capsules import split_daily_total
from isoguard.core.knowledge.codes import load_codes
from isoguard.core.knowledge.products import load_catalogue
from isoguard.core.mood import load_mood
from isoguard.core.vocabulary import LabTest, PregnancyTestSetting
from isoguard.courses.lab_services import checked_lab
from isoguard.courses.models import (
    Consent,
    Dispense,
    LabResult,
    MoodAssessment,
    PregnancyTest,
    Prescription,
    ProgrammeDecision,
)
from isoguard.interop.outcome import RXNORM, UCUM
from isoguard.patients.models import Patient

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
DRUG_FORM = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"
# isoguard's own slugs, until the product has a canonical base URL of its own.
RECORD_NUMBER = "urn:isoguard:clinic-record-number"
TEST_SETTING = "urn:isoguard:pregnancy-test-setting"
CONSENT_KIND = "urn:isoguard:consent-kind"
RULE = "urn:isoguard:programme-rule"
RMA_NUMBER = "urn:isoguard:ipledge-rma-number"

# SNOMED answers of a qualitative test (interop.md 2.1: Positive 10828004 from the LOINC answer
# list LL360-9; Negative 260385009 is marked "presumably; not verified" there).
RESULT_CODES = {"positive": ("10828004", "Positive"), "negative": ("260385009", "Negative")}
# The UCUM code of each unit spelling labs.toml accepts.
UCUM_CODES = {"mg/dL": "mg/dL", "mmol/L": "mmol/L", "U/L": "U/L", "IU/L": "[IU]/L"}


def _valid(model: type[Resource], data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data` as `model` and return it as FHIR JSON (a dict, no empty elements)."""
    return model.model_validate(data).model_dump(mode="json")


def _date(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _ref(kind: str, prefix: str, pk: int | None, display: str = "") -> dict[str, str] | None:
    if pk is None:
        return None
    ref = {"reference": f"{kind}/{prefix}-{pk}"}
    if display:
        ref["display"] = display
    return ref


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """Drop None values (and empty lists) at the top level, so optional elements are left out."""
    return {k: v for k, v in data.items() if v is not None and v != []}


def _medication(product: str) -> dict[str, Any]:
    """The product by name, coded as the RxNorm ingredient.

    codes.toml has RxNorm clinical drugs per capsule strength but none per product, and a
    prescription records the daily dose, not the capsules, so the ingredient is the honest code.
    """
    name = load_catalogue().product(product).name
    ingredient = next(c for c in load_codes().drugs if c.tty == "IN")
    return {
        "coding": [{"system": RXNORM, "code": ingredient.rxcui, "display": ingredient.display}],
        "text": f"{name} (isotretinoin) oral capsules",
    }


# --- the actors ---------------------------------------------------------------------------------


def patient_resource(patient: Patient) -> dict[str, Any]:
    telecom = [{"system": "phone", "value": patient.phone}] if patient.phone else []
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    identifier = (
        [{"system": RECORD_NUMBER, "value": patient.clinic_record_number}]
        if patient.clinic_record_number
        else []
    )
    data = {
        "resourceType": "Patient",
        "id": f"patient-{patient.pk}",
        "identifier": identifier,
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "telecom": telecom,
        "gender": patient.administrative_gender,
        "birthDate": _date(patient.birth_date),
        "address": [{"country": patient.country}] if patient.country else [],
        "managingOrganization": _ref("Organization", "org", patient.clinic_id),
    }
    return _valid(FhirPatient, _clean(data))


def organization_resource(organisation: Organisation) -> dict[str, Any]:
    data = {
        "resourceType": "Organization",
        "id": f"org-{organisation.pk}",
        "active": True,
        "type": [
            {
                "coding": [
                    {"system": ORGANIZATION_TYPE, "code": "prov", "display": "Healthcare Provider"}
                ],
                "text": organisation.kind,
            }
        ],
        "name": organisation.name,
        "telecom": [{"system": "phone", "value": organisation.phone}] if organisation.phone else [],
        "address": [{"text": organisation.address}] if organisation.address else [],
    }
    return _valid(Organization, _clean(data))


def practitioner_resource(user: User) -> dict[str, Any]:
    name = _clean(
        {"family": user.last_name or None, "given": [user.first_name] if user.first_name else []}
    )
    data = {
        "resourceType": "Practitioner",
        "id": f"practitioner-{user.pk}",
        "identifier": (
            [{"type": {"text": "professional registration"}, "value": user.professional_id}]
            if user.professional_id
            else []
        ),
        "name": [{**name, "text": user.get_full_name() or user.get_username()}],
    }
    return _valid(Practitioner, _clean(data))


# --- prescriptions and fills --------------------------------------------------------------------


def _dose(mg: int, when: str | None, sequence: int, text: str) -> dict[str, Any]:
    timing: dict[str, Any] = {"frequency": 1, "period": 1, "periodUnit": "d"}
    if when:
        timing["when"] = [when]
    return {
        "sequence": sequence,
        "text": text,
        "timing": {"repeat": timing},
        "route": {"text": "oral"},
        "doseAndRate": [
            {"doseQuantity": {"value": mg, "unit": "mg", "system": UCUM, "code": "mg"}}
        ],
    }


def _dosage(rx: Prescription) -> list[dict[str, Any]]:
    """The daily dose as a morning and an evening dose, from the dose plan in force or the core."""
    plans = [p for p in rx.course.dose_plans.all() if p.effective_from <= rx.written_on]
    plan = max(plans, key=lambda p: (p.effective_from, p.set_at, p.pk), default=None)
    morning = evening = None
    if plan is not None and plan.daily_mg == rx.daily_dose_mg:
        morning, evening = plan.morning_mg, plan.evening_mg
    else:
        try:
            strengths = load_catalogue().product(rx.course.product).strength_mgs()
            split = split_daily_total(rx.daily_dose_mg, strengths)
            morning, evening = sum(split.morning), sum(split.evening)
        except (KeyError, ValueError):
            pass
    food = load_catalogue().product(rx.course.product).food_note
    if morning is None or evening is None:
        doses = [_dose(rx.daily_dose_mg, None, 1, f"{rx.daily_dose_mg} mg a day")]
    else:
        doses = [
            _dose(morning, "MORN", 1, f"{morning} mg in the morning"),
            _dose(evening, "EVE", 2, f"{evening} mg in the evening"),
        ]
    return [{**dose, "patientInstruction": food} if food else dose for dose in doses]


def _last_fill_day(rx: Prescription) -> dt.date | None:
    """The last day the prescription may be filled, when a decision or iPLEDGE gave one."""
    decisions = [
        d for d in rx.decisions.all() if d.allowed and d.dispense_by and d.reversed_at is None
    ]
    if decisions:
        return max(decisions, key=lambda d: (d.created_at, d.pk)).dispense_by
    if hasattr(rx, "dispense"):  # False when there is none (the accessor raises AttributeError)
        return rx.dispense.external_do_not_dispense_after
    return None


def medication_request_status(rx: Prescription) -> str:
    if rx.cancelled_at is not None:
        return "cancelled"
    if hasattr(rx, "dispense"):
        return "completed"
    if rx.course.status in ("completed", "stopped"):
        return "stopped"  # never filled, and the course is over
    return "active"


def medication_request_resource(rx: Prescription) -> dict[str, Any]:
    validity = _clean({"start": _date(rx.written_on), "end": _date(_last_fill_day(rx))})
    data = {
        "resourceType": "MedicationRequest",
        "id": f"rx-{rx.pk}",
        "status": medication_request_status(rx),
        "intent": "order",
        "medicationCodeableConcept": _medication(rx.course.product),
        "subject": _ref("Patient", "patient", rx.course.patient_id),
        "authoredOn": _date(rx.written_on),
        "requester": _ref("Practitioner", "practitioner", rx.prescriber_id),
        "reasonCode": [
            {
                "coding": [
                    {"system": "http://hl7.org/fhir/sid/icd-10", "code": rx.course.indication_icd10}
                ]
            }
        ],
        "dosageInstruction": _dosage(rx),
        "dispenseRequest": _clean(
            {
                "validityPeriod": validity,
                "numberOfRepeatsAllowed": rx.refills,
                "quantity": {
                    "value": rx.quantity,
                    "unit": "capsule",
                    "system": DRUG_FORM,
                    "code": "CAP",
                },
                "expectedSupplyDuration": {
                    "value": rx.days_supply,
                    "unit": "days",
                    "system": UCUM,
                    "code": "d",
                },
                "performer": _ref("Organization", "org", rx.pharmacy_id),
            }
        ),
    }
    return _valid(MedicationRequest, _clean(data))


def medication_dispense_resource(dispense: Dispense) -> dict[str, Any]:
    rx = dispense.prescription
    data = {
        "resourceType": "MedicationDispense",
        "id": f"dispense-{dispense.pk}",
        "identifier": (
            [{"system": RMA_NUMBER, "value": dispense.rma_number}] if dispense.rma_number else []
        ),
        "status": "completed",
        "medicationCodeableConcept": _medication(rx.course.product),
        "subject": _ref("Patient", "patient", rx.course.patient_id),
        "performer": [
            {"actor": _ref("Practitioner", "practitioner", dispense.pharmacist_id)},
            {"actor": _ref("Organization", "org", dispense.pharmacy_id)},
        ],
        "authorizingPrescription": [_ref("MedicationRequest", "rx", rx.pk)],
        "quantity": {
            "value": dispense.quantity,
            "unit": "capsule",
            "system": DRUG_FORM,
            "code": "CAP",
        },
        "daysSupply": {"value": dispense.days_supply, "unit": "days", "system": UCUM, "code": "d"},
        "whenHandedOver": _date(dispense.dispensed_on),
    }
    return _valid(MedicationDispense, _clean(data))


# --- observations -------------------------------------------------------------------------------


def _laboratory() -> list[dict[str, Any]]:
    return [
        {
            "coding": [
                {"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}
            ]
        }
    ]


def pregnancy_test_resource(test: PregnancyTest) -> dict[str, Any]:
    known = {c.loinc: c for c in load_codes().pregnancy_tests}
    if test.loinc_code:
        display = known[test.loinc_code].display if test.loinc_code in known else None
        code = {"coding": [_clean({"system": LOINC, "code": test.loinc_code, "display": display})]}
    else:
        code = {"text": "Pregnancy test"}
    snomed, label = RESULT_CODES[test.result]
    data = {
        "resourceType": "Observation",
        "id": f"pregnancy-test-{test.pk}",
        "status": "final",
        "category": _laboratory(),
        "code": {**code, "text": "Pregnancy test"},
        "subject": _ref("Patient", "patient", test.patient_id),
        "effectiveDateTime": _date(test.specimen_date),
        "valueCodeableConcept": {
            "coding": [{"system": SNOMED, "code": snomed, "display": label}],
            "text": test.result,
        },
        # Where it was done (lab, clinic, home) decides whether a programme accepts it.
        "method": {
            "coding": [{"system": TEST_SETTING, "code": test.setting}],
            "text": test.setting,
        },
    }
    return _valid(Observation, _clean(data))


def lab_resource(lab: LabResult) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": lab.value, "unit": lab.unit}
    if lab.unit in UCUM_CODES:
        quantity |= {"system": UCUM, "code": UCUM_CODES[lab.unit]}
    display = next((c.display for c in load_codes().lab_tests if c.loinc == lab.loinc_code), None)
    data = {
        "resourceType": "Observation",
        "id": f"lab-{lab.pk}",
        "status": "final",
        "category": _laboratory(),
        "code": {
            "coding": [_clean({"system": LOINC, "code": lab.loinc_code, "display": display})],
            "text": lab.test,
        },
        "subject": _ref("Patient", "patient", lab.patient_id),
        "effectiveDateTime": _date(lab.taken_on),
        "valueQuantity": quantity,
        "note": [{"text": "fasting"}] if lab.fasting else [],
    }
    return _valid(Observation, _clean(data))


# --- consents, mood screens, programme findings -------------------------------------------------


def consent_resource(consent: Consent) -> dict[str, Any]:
    course = consent.course
    performers = [_ref("Patient", "patient", course.patient_id)]
    if consent.guardian_signed:
        performers.append({"display": "parent or guardian"})
    data = {
        "resourceType": "Consent",
        "id": f"consent-{consent.pk}",
        "status": "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "treatment"}]},
        "category": [
            {
                "coding": [{"system": CONSENT_KIND, "code": consent.kind}],
                "text": consent.kind.replace("_", " "),
            }
        ],
        "patient": _ref("Patient", "patient", course.patient_id),
        "dateTime": _date(consent.signed_on),
        "performer": performers,
        "organization": [_ref("Organization", "org", course.patient.clinic_id)],
        "policyRule": {"text": consent.document_version},
    }
    return _valid(FhirConsent, _clean(data))


def questionnaire_response_resource(assessment: MoodAssessment) -> dict[str, Any]:
    tool = load_mood().tool(assessment.tool)
    stored = assessment.answers if isinstance(assessment.answers, dict) else {}
    answers = stored.get("items") or (
        assessment.answers if isinstance(assessment.answers, list) else []
    )
    items = [
        {"linkId": str(item.id), "text": item.text, "answer": [{"valueInteger": value}]}
        for item, value in zip(tool.item, answers, strict=False)
    ]
    texts = {extra.id: extra.text for extra in tool.extra}
    items += [
        {
            "linkId": f"extra-{key}",
            "text": texts.get(key, key),
            "answer": [{"valueBoolean": bool(value)}],
        }
        for key, value in (stored.get("extras") or {}).items()
    ]
    items.append(
        {"linkId": "total", "text": "Total score", "answer": [{"valueInteger": assessment.score}]}
    )
    data = {
        "resourceType": "QuestionnaireResponse",
        "id": f"mood-{assessment.pk}",
        "questionnaire": f"urn:isoguard:questionnaire:{assessment.tool}",
        "status": "completed",
        "subject": _ref("Patient", "patient", assessment.patient_id),
        "authored": _date(assessment.assessed_on),
        "item": items,
    }
    return _valid(QuestionnaireResponse, _clean(data))


def detected_issue_resources(decision: ProgrammeDecision) -> list[dict[str, Any]]:
    """One DetectedIssue per finding the programme's rules did not find met."""
    issues = []
    for index, finding in enumerate(decision.findings):
        if finding.get("status") == "met":
            continue
        source = finding.get("source") or ""
        data = {
            "resourceType": "DetectedIssue",
            "id": f"issue-{decision.pk}-{index}",
            "status": "cancelled" if decision.reversed_at else "final",
            "code": {
                "coding": [{"system": RULE, "code": finding["rule"]}],
                "text": f"{finding['status']}: {finding['rule']}",
            },
            "severity": "high" if not decision.allowed else "moderate",
            "patient": _ref("Patient", "patient", decision.course.patient_id),
            "identifiedDateTime": decision.as_of.isoformat(),
            "implicated": [_ref("MedicationRequest", "rx", decision.prescription_id)]
            if decision.prescription_id
            else [],
            "detail": finding["message"] + (f" (source: {source})" if source else ""),
        }
        issues.append(_valid(DetectedIssue, _clean(data)))
    return issues


# --- bundles ------------------------------------------------------------------------------------


def bundle_valid(data: dict[str, Any]) -> dict[str, Any]:
    return _valid(Bundle, data)


def bundle(kind: str, resources: Iterable[dict[str, Any]], base: str = "") -> dict[str, Any]:
    """A `searchset` or `collection` Bundle of `resources` (validated as a whole)."""
    resources = list(resources)
    entries = [
        {
            "fullUrl": f"{base}{r['resourceType']}/{r['id']}",
            "resource": r,
            **({"search": {"mode": "match"}} if kind == "searchset" else {}),
        }
        for r in resources
    ]
    data: dict[str, Any] = {"resourceType": "Bundle", "type": kind, "entry": entries}
    if kind == "searchset":
        data["total"] = len(resources)
    return _valid(Bundle, _clean(data))


# --- reading a transaction Bundle back ----------------------------------------------------------


def _invalid(where: str, message: str) -> ValidationError:
    return ValidationError({where: message})


def _parse_bundle(bundle_json: str | bytes | dict[str, Any]) -> Bundle:
    try:
        data = json.loads(bundle_json) if isinstance(bundle_json, str | bytes) else bundle_json
    except ValueError as error:
        raise _invalid("Bundle", f"not JSON: {error}") from None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise _invalid("Bundle", "expected a resource of type Bundle")
    try:
        parsed = Bundle.model_validate(data)
    except PydanticValidationError as error:
        first = error.errors()[0]
        where = "Bundle." + ".".join(
            f"[{p}]" if isinstance(p, int) else str(p) for p in first["loc"]
        ).replace(".[", "[")
        raise _invalid(where, first["msg"]) from None
    if parsed.type != "transaction":
        raise _invalid("Bundle.type", f"expected transaction, got {parsed.type!r}")
    return parsed


def _codes(concept: Any, system: str) -> list[str]:
    return (
        [c.code for c in (concept.coding or []) if c.system == system and c.code] if concept else []
    )


def _day(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise _invalid(where, "a date is required")


def _patient_row(resource: Any, where: str, clinic: Organisation) -> Patient:
    name = (resource.name or [None])[0]
    family = name.family if name else None
    given = (name.given or [None])[0] if name else None
    if not family or not given:
        raise _invalid(f"{where}.name", "a family and a given name are required")
    if resource.birthDate is None:
        raise _invalid(f"{where}.birthDate", "is required")
    gender = resource.gender or "unknown"
    if gender not in Patient.AdministrativeGender.values:
        raise _invalid(
            f"{where}.gender", f"expected female, male, other or unknown, got {gender!r}"
        )
    numbers = [
        i.value for i in (resource.identifier or []) if i.system == RECORD_NUMBER and i.value
    ]
    number = numbers[0] if numbers else ""
    if number and Patient.objects.filter(clinic=clinic, clinic_record_number=number).exists():
        raise _invalid(f"{where}.identifier", f"record number {number!r} is already used here")
    telecom = {t.system: t.value for t in (resource.telecom or []) if t.value}
    country = next((a.country for a in (resource.address or []) if a.country), "")
    if len(country) != 2:
        country = ""
    return Patient(
        clinic=clinic,
        given_name=given,
        family_name=family,
        birth_date=_day(resource.birthDate, f"{where}.birthDate"),
        administrative_gender=gender,
        jurisdiction=clinic.jurisdiction,
        clinic_record_number=number,
        phone=telecom.get("phone", ""),
        email=telecom.get("email", ""),
        country=country,
    )


def _pregnancy_test_row(resource: Any, where: str, patient: Patient, user: User) -> PregnancyTest:
    if resource.valueCodeableConcept is None:
        raise _invalid(f"{where}.valueCodeableConcept", "a positive or negative result is required")
    answers = {code: slug for slug, (code, _) in RESULT_CODES.items()}
    results = [answers[c] for c in _codes(resource.valueCodeableConcept, SNOMED) if c in answers]
    text = (resource.valueCodeableConcept.text or "").strip().lower()
    if not results and text in RESULT_CODES:
        results = [text]
    if len(set(results)) != 1:
        raise _invalid(
            f"{where}.valueCodeableConcept",
            "expected SNOMED 10828004 (positive) or 260385009 (negative)",
        )
    settings = _codes(resource.method, TEST_SETTING)
    if not settings or settings[0] not in {s.value for s in PregnancyTestSetting}:
        raise _invalid(
            f"{where}.method", f"the setting is required: a {TEST_SETTING} code lab, clinic or home"
        )
    return PregnancyTest(
        patient=patient,
        specimen_date=_day(resource.effectiveDateTime, f"{where}.effectiveDateTime"),
        result=results[0],
        setting=settings[0],
        loinc_code=_codes(resource.code, LOINC)[0],
        recorded_by=user,
    )


def _lab_row(resource: Any, where: str, patient: Patient, user: User, test: LabTest) -> LabResult:
    quantity = resource.valueQuantity
    if quantity is None or quantity.value is None:
        raise _invalid(f"{where}.valueQuantity", "a value with its unit is required")
    spelled = quantity.unit or {v: k for k, v in UCUM_CODES.items()}.get(quantity.code or "", "")
    taken_on = _day(resource.effectiveDateTime, f"{where}.effectiveDateTime")
    paths = {"value": "valueQuantity.value", "unit": "valueQuantity.unit",
             "taken_on": "effectiveDateTime", "test": "code"}  # fmt: skip
    try:
        lab = checked_lab(test, quantity.value, spelled, taken_on)
    except ValidationError as error:  # the same checks and thresholds as a result typed in
        field, messages = next(iter(error.message_dict.items()))
        raise _invalid(f"{where}.{paths.get(field, field)}", messages[0]) from None
    lab.patient, lab.recorded_by = patient, user
    lab.fasting = (
        True if any((n.text or "").strip() == "fasting" for n in resource.note or []) else None
    )
    return lab


@dataclass(frozen=True)
class Imported:
    """What a transaction created: the patient, and where each imported entry now lives."""

    patient: Patient
    kinds: tuple[str, ...]
    """the resource type of each entry of the Bundle, in order"""
    locations: dict[int, str]
    """entry index -> `Type/id` of what it created; an entry not imported has none"""


def import_bundle(
    bundle_json: str | bytes | dict[str, Any], clinic: Organisation, user: User
) -> Patient:
    """Create a patient with their pregnancy tests and labs from a transaction Bundle.

    The Bundle holds exactly one Patient; its Observations must refer to it (by the entry's
    fullUrl or `Patient/<id>`). Other resource types are accepted and not imported (yet).
    Raises ValidationError naming the element (`Bundle.entry[2].resource.code`); nothing is
    stored then. The caller checks who may import and audits it.
    """
    return import_entries(bundle_json, clinic, user).patient


def import_entries(
    bundle_json: str | bytes | dict[str, Any], clinic: Organisation, user: User
) -> Imported:
    """`import_bundle`, also saying what each entry became."""
    parsed = _parse_bundle(bundle_json)
    entries = list(enumerate(parsed.entry or []))
    kinds = tuple(e.resource.get_resource_type() if e.resource else "" for _, e in entries)
    patients = [i for i, kind in enumerate(kinds) if kind == "Patient"]
    if len(patients) != 1:
        raise _invalid("Bundle.entry", f"expected exactly one Patient, found {len(patients)}")
    index = patients[0]
    entry = entries[index][1]
    where = f"Bundle.entry[{index}].resource"
    patient = _patient_row(entry.resource, where, clinic)
    names = {f"Patient/{entry.resource.id}"} if entry.resource.id else set()
    if entry.fullUrl:
        names.add(entry.fullUrl)

    pregnancy_codes = {c.loinc for c in load_codes().pregnancy_tests if not c.quantitative}
    lab_codes = {c.loinc: c.test for c in load_codes().lab_tests}
    rows: dict[int, PregnancyTest | LabResult] = {}
    with transaction.atomic():
        try:
            patient.full_clean()
        except ValidationError as error:
            field, messages = next(iter(error.message_dict.items()))
            raise _invalid(where, f"{field}: {' '.join(messages)}") from None
        patient.save()
        for i, e in entries:
            resource = e.resource
            if kinds[i] != "Observation":
                continue
            where = f"Bundle.entry[{i}].resource"
            subject = resource.subject.reference if resource.subject else None
            if subject not in names:
                raise _invalid(f"{where}.subject", "must refer to the Bundle's Patient")
            codes = _codes(resource.code, LOINC)
            if any(c in pregnancy_codes for c in codes):
                rows[i] = _pregnancy_test_row(resource, where, patient, user)
            elif any(c in lab_codes for c in codes):
                test = lab_codes[next(c for c in codes if c in lab_codes)]
                rows[i] = _lab_row(resource, where, patient, user, LabTest(test))
            else:
                raise _invalid(
                    f"{where}.code",
                    "expected the LOINC code of a qualitative pregnancy test or a monitoring lab",
                )
        locations = {index: f"Patient/patient-{patient.pk}"}
        for i, row in rows.items():
            row.save()
            prefix = "pregnancy-test" if isinstance(row, PregnancyTest) else "lab"
            locations[i] = f"Observation/{prefix}-{row.pk}"
    return Imported(patient, kinds, locations)
