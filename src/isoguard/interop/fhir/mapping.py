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
from collections.abc import Iterable, Sequence
from typing import Any

from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.condition import Condition
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

from isoguard.accounts.models import Organisation, User
from isoguard.core.dosing_capsules import split_daily_total
from isoguard.core.knowledge.codes import load_codes
from isoguard.core.knowledge.products import load_catalogue
from isoguard.core.mood import load_mood
from isoguard.courses.models import (
    Consent,
    Course,
    Dispense,
    LabResult,
    MonthlyCheck,
    MoodAssessment,
    PregnancyTest,
    Prescription,
    ProgrammeDecision,
)
from isoguard.interop.outcome import RXNORM, UCUM
from isoguard.patients.models import Allergy, Diagnosis, Patient

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
PRODUCT = "urn:isoguard:product"
COURSE_STATUS = "urn:isoguard:course-status"
COURSE_NUMBER = "urn:isoguard:course-number"
MONTHLY_CHECK = "urn:isoguard:monthly-check"
# A course's programme edition and cumulative-dose target have no element of their own in R4.
RULE_PACK_EXTENSION = "urn:isoguard:fhir:extension:rule-pack"
TARGET_EXTENSION = "urn:isoguard:fhir:extension:target-mg-per-kg"
ENROLLED_EXTENSION = "urn:isoguard:fhir:extension:enrolled-on"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
# CarePlan.status for each course status; the exact status travels in a category coding.
CARE_PLAN_STATUS = {
    "screening": "draft",
    "enrolled": "active",
    "active": "active",
    "completed": "completed",
    "stopped": "revoked",
}
# Read back without the category: each CarePlan status as the course status it stands for ("active"
# as under way: an enrolled course also travels as "active", but with its exact status).
COURSE_STATUS_OF_PLAN = {plan: course for course, plan in CARE_PLAN_STATUS.items()
                         if course != "enrolled"}  # fmt: skip

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
        "coding": [
            {"system": RXNORM, "code": ingredient.rxcui, "display": ingredient.display},
            {"system": PRODUCT, "code": product, "display": name},
        ],
        "text": f"{name} (isotretinoin) oral capsules",
    }


def _course_ref(course_id: int | None) -> list[dict[str, str]]:
    ref = _ref("CarePlan", "course", course_id)
    return [ref] if ref else []


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
        "basedOn": _course_ref(rx.course_id),
        "authoredOn": _date(rx.written_on),
        "requester": _ref("Practitioner", "practitioner", rx.prescriber_id),
        "reasonCode": [{"coding": [{"system": ICD10, "code": rx.course.indication_icd10}]}],
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
        "basedOn": _course_ref(test.course_id),
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
        "basedOn": _course_ref(lab.course_id),
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
        # The course the consent was given for.
        "provision": {
            "type": "permit",
            "data": [{"meaning": "related", "reference": _course_ref(consent.course_id)[0]}],
        },
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
        "basedOn": _course_ref(assessment.course_id),
        "status": "completed",
        "subject": _ref("Patient", "patient", assessment.patient_id),
        "authored": _date(assessment.assessed_on),
        "item": items,
    }
    return _valid(QuestionnaireResponse, _clean(data))


def monthly_check_resource(check: MonthlyCheck) -> dict[str, Any]:
    """A monthly duty (counselling, comprehension, contraception confirmed) as it was answered."""
    items = [_answer_item(str(key), value) for key, value in sorted((check.answers or {}).items())]
    if check.passed is not None:
        items.append(
            {"linkId": "passed", "text": "Passed", "answer": [{"valueBoolean": check.passed}]}
        )
    data = {
        "resourceType": "QuestionnaireResponse",
        "id": f"monthly-{check.pk}",
        "questionnaire": f"{MONTHLY_CHECK}:{check.kind}",
        "basedOn": _course_ref(check.course_id),
        "status": "completed",
        "subject": _ref("Patient", "patient", check.course.patient_id),
        "authored": _date(check.done_on),
        "item": items,
    }
    return _valid(QuestionnaireResponse, _clean(data))


def _answer_item(link_id: str, value: Any) -> dict[str, Any]:
    """One stored answer as an item; a mapping (`{"chosen": .., "right": ..}`) as a group."""
    if isinstance(value, dict):
        return {
            "linkId": link_id,
            "item": [_answer_item(f"{link_id}.{k}", v) for k, v in value.items()],
        }
    if value is None:
        return {"linkId": link_id}
    if isinstance(value, bool):
        answer: dict[str, Any] = {"valueBoolean": value}
    elif isinstance(value, int):
        answer = {"valueInteger": value}
    else:
        answer = {"valueString": json.dumps(value) if not isinstance(value, str) else value}
    return {"linkId": link_id, "answer": [answer]}


# --- the course and the record the clinic keeps --------------------------------------------------


def care_plan_resource(course: Course) -> dict[str, Any]:
    """A course as a CarePlan: its status, dates, product, programme edition and dose target."""
    period = _clean({"start": _date(course.first_dose_on), "end": _date(course.last_dose_on)})
    extensions = [
        {"url": RULE_PACK_EXTENSION, "valueCode": course.rule_pack},
        {"url": TARGET_EXTENSION, "valueInteger": course.target_mg_per_kg},
    ]
    if course.enrolled_on:
        extensions.append({"url": ENROLLED_EXTENSION, "valueDate": _date(course.enrolled_on)})
    data = {
        "resourceType": "CarePlan",
        "id": f"course-{course.pk}",
        "extension": extensions,
        "identifier": [{"system": COURSE_NUMBER, "value": str(course.number)}],
        "status": CARE_PLAN_STATUS[course.status],
        "intent": "plan",
        "category": [
            {
                "coding": [{"system": COURSE_STATUS, "code": course.status}],
                "text": f"isotretinoin course ({course.status})",
            }
        ],
        "title": f"Isotretinoin course {course.number}",
        "subject": _ref("Patient", "patient", course.patient_id),
        "period": period or None,
        "author": _ref("Practitioner", "practitioner", course.prescriber_id),
        "activity": [
            {
                "detail": {
                    "kind": "MedicationRequest",
                    "status": _activity_status(course.status),
                    "reasonCode": [
                        {"coding": [{"system": ICD10, "code": course.indication_icd10}]}
                    ],
                    "productCodeableConcept": _medication(course.product),
                }
            }
        ],
        "note": [{"text": f"Stopped: {course.stopped_reason}"}] if course.stopped_reason else [],
    }
    return _valid(CarePlan, _clean(data))


def _activity_status(status: str) -> str:
    return {"screening": "not-started", "enrolled": "scheduled", "active": "in-progress",
            "completed": "completed", "stopped": "stopped"}[status]  # fmt: skip


def condition_resource(diagnosis: Diagnosis) -> dict[str, Any]:
    data = {
        "resourceType": "Condition",
        "id": f"condition-{diagnosis.pk}",
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
        "category": [{"coding": [{"system": CONDITION_CATEGORY, "code": "problem-list-item"}]}],
        "code": {
            "coding": [{"system": ICD10, "code": diagnosis.icd10_code}],
            "text": diagnosis.description,
        },
        "subject": _ref("Patient", "patient", diagnosis.patient_id),
        "recordedDate": _date(diagnosis.recorded_on),
    }
    return _valid(Condition, _clean(data))


def allergy_intolerance_resource(allergy: Allergy) -> dict[str, Any]:
    """An allergy as the patient or record names it (free text: no code is guessed)."""
    data = {
        "resourceType": "AllergyIntolerance",
        "id": f"allergy-{allergy.pk}",
        "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": "active"}]},
        "code": {"text": allergy.substance},
        "patient": _ref("Patient", "patient", allergy.patient_id),
        "recordedDate": _date(allergy.recorded_on),
        "reaction": ([{"manifestation": [{"text": allergy.reaction}]}] if allergy.reaction else []),
    }
    return _valid(AllergyIntolerance, _clean(data))


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


def bundle(
    kind: str,
    resources: Iterable[dict[str, Any]],
    base: str = "",
    *,
    total: int | None = None,
    links: Sequence[dict[str, str]] = (),
) -> dict[str, Any]:
    """A `searchset` or `collection` Bundle of `resources`, which the functions above built and
    validated. The Bundle around them (entries, total, links) is validated without them and they
    are put in afterwards: validated again inside the Bundle, a patient's whole record was checked
    twice over (three times in a search) for nothing."""
    resources = list(resources)
    entries = [
        {
            "fullUrl": f"{base}{r['resourceType']}/{r['id']}",
            **({"search": {"mode": "match"}} if kind == "searchset" else {}),
        }
        for r in resources
    ]
    data: dict[str, Any] = {"resourceType": "Bundle", "type": kind, "entry": entries}
    if kind == "searchset":
        data["total"] = len(resources) if total is None else total
    data["link"] = list(links)
    valid = _valid(Bundle, _clean(data))
    if resources:
        valid["entry"] = [
            {"fullUrl": entry["fullUrl"], "resource": resource, **entry}
            for entry, resource in zip(valid["entry"], resources, strict=True)
        ]
    return valid
