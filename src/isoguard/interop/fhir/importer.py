"""A transaction Bundle read back into isoguard: a patient with their history, in one transaction.

What is imported, each resource checked as the app checks what a person types in:

- Patient; Condition (diagnoses) and AllergyIntolerance (allergies) of the clinic's record;
- CarePlan: one course each (status, dates, product, programme edition, cumulative-dose target);
- MedicationRequest (prescriptions) and MedicationDispense (fills) of those courses;
- Consent, Observation (pregnancy tests and monitoring labs) and QuestionnaireResponse (mood
  screens and the monthly checks).

Two things are deliberately *not* carried over as they were, because authorising a dispense the
rules forbid is the worst thing isoguard can do:

- an open course (screening, enrolled or active) arrives as a course **in screening**, with its
  history: this clinic screens the patient before the course goes on (`course_start_from_screening`
  then continues that course, and its fills count towards the cumulative dose);
- a prescription not yet filled arrives **cancelled**: it was checked by another system's rules,
  so a pharmacy here may not fill it; the prescriber writes it here, where the programme checks it.

DetectedIssue resources (another system's findings) are not imported: the rules here decide again.
The people and places of the history (the prescriber, the pharmacy and its pharmacist) become
*external* organisations with inactive accounts that cannot log in, so that each prescription and
fill keeps who wrote and who filled it. Each entry that is not imported, or imported changed, gets
a warning OperationOutcome in the transaction-response.

Errors raise ValidationError naming the element (`Bundle.entry[2].resource.code`); nothing is
stored then. The caller checks who may import and audits it.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError as PydanticValidationError

from isoguard.accounts.models import Organisation, User
from isoguard.audit.services import audit_record
from isoguard.core.knowledge.codes import load_codes
from isoguard.core.knowledge.packs import load_packs
from isoguard.core.knowledge.products import load_catalogue
from isoguard.core.mood import MoodInputError, load_mood, score
from isoguard.core.screening_input import age_over_bound
from isoguard.core.vocabulary import (
    ConsentKind,
    CourseStatus,
    LabTest,
    MonthlyCheckKind,
    PregnancyTestSetting,
    Role,
)
from isoguard.courses.dates import date_in_window
from isoguard.courses.lab_services import checked_lab
from isoguard.courses.models import (
    OPEN_STATUSES,
    Consent,
    Course,
    Dispense,
    LabResult,
    MonthlyCheck,
    MoodAssessment,
    PregnancyTest,
    Prescription,
)
from isoguard.courses.mood_services import worklist_report
from isoguard.interop.fhir.mapping import (
    CARE_PLAN_STATUS,
    CONSENT_KIND,
    COURSE_NUMBER,
    COURSE_STATUS,
    COURSE_STATUS_OF_PLAN,
    ENROLLED_EXTENSION,
    ICD10,
    LOINC,
    MONTHLY_CHECK,
    PRODUCT,
    RECORD_NUMBER,
    RESULT_CODES,
    RMA_NUMBER,
    RULE_PACK_EXTENSION,
    SNOMED,
    TARGET_EXTENSION,
    TEST_SETTING,
    UCUM_CODES,
)
from isoguard.patients.models import Allergy, Diagnosis, Patient
from isoguard.screenings.services import rule_pack_for

# The order entries are read in: what a later kind refers to exists by then.
ORDER = (
    "Patient",
    "Condition",
    "AllergyIntolerance",
    "CarePlan",
    "MedicationRequest",
    "MedicationDispense",
    "Consent",
    "Observation",
    "QuestionnaireResponse",
)
NOT_IMPORTED = {
    "DetectedIssue": "findings are not imported: isoguard's rules decide again here",
    "Organization": "kept only as the external organisation of the history that names it",
    "Practitioner": "kept only as the external prescriber or pharmacist of the history",
}
MOOD_QUESTIONNAIRE = "urn:isoguard:questionnaire:"


@dataclass(frozen=True)
class Imported:
    """What a transaction created: the patient, and where each imported entry now lives."""

    patient: Patient
    kinds: tuple[str, ...]
    """the resource type of each entry of the Bundle, in order"""
    locations: dict[int, str]
    """entry index -> `Type/id` of what it created; an entry not imported has none"""
    notes: dict[int, str] = field(default_factory=dict)
    """entry index -> why it was not imported, or what was changed on the way in"""
    counts: dict[str, int] = field(default_factory=dict)
    """resource type -> how many were imported"""


def _invalid(where: str, message: str) -> ValidationError:
    return ValidationError({where: message})


def parse_bundle(bundle_json: str | bytes | dict[str, Any]) -> Bundle:
    try:
        data = json.loads(bundle_json) if isinstance(bundle_json, str | bytes) else bundle_json
        refused = _refused_at(data, "Bundle")
    except ValueError as error:
        raise _invalid("Bundle", f"not JSON: {error}") from None
    except RecursionError:  # nested deeper than the parser goes: no FHIR resource is
        raise _invalid("Bundle", "not JSON that can be read: nested too deeply") from None
    if refused is not None:
        raise _invalid(*refused)
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


def _refused_at(value: Any, where: str) -> tuple[str, str] | None:
    """The first place, and why, that the parser must not get: a string holding a NUL character
    (PostgreSQL cannot store one), or a resourceType that is no FHIR type (fhir.resources fails on
    it with a KeyError, not a validation error)."""
    if isinstance(value, str):
        return (where, "a NUL character is not allowed") if "\x00" in value else None
    if isinstance(value, dict):
        if any(isinstance(key, str) and "\x00" in key for key in value):
            return where, "a NUL character is not allowed"
        if "resourceType" in value and not _fhir_type(value["resourceType"]):
            return f"{where}.resourceType", f"unknown resource type {value['resourceType']!r}"
        places = [(f"{where}.{key}", item) for key, item in value.items()]
    elif isinstance(value, list):
        places = [(f"{where}[{index}]", item) for index, item in enumerate(value)]
    else:
        return None
    for place, item in places:
        found = _refused_at(item, place)
        if found is not None:
            return found
    return None


def _fhir_type(name: Any) -> bool:
    try:
        return isinstance(name, str) and get_fhir_model_class(name) is not None
    except (KeyError, ValueError):
        return False


def _codes(concept: Any, system: str) -> list[str]:
    return (
        [c.code for c in (concept.coding or []) if c.system == system and c.code] if concept else []
    )


def _day(value: Any, where: str, *, future: bool = False) -> dt.date:
    """A date of the history; one after today is refused (the rules would count it as done on
    that day), unless `future` (a last day to fill)."""
    if isinstance(value, dt.datetime):
        day = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        raise _invalid(where, "a date is required")
    if not future and day > timezone.localdate():
        raise _invalid(where, f"{day.isoformat()} is in the future")
    return day


def _optional_day(value: Any, where: str, *, future: bool = False) -> dt.date | None:
    return None if value is None else _day(value, where, future=future)


def _days(value: Any, where: str) -> int:
    """A duration in days: UCUM `d` (or the unit spelled d, day or days)."""
    if value is not None and value.value is not None:
        unit = (value.code or value.unit or "").strip().lower()
        if unit not in ("d", "day", "days"):
            raise _invalid(where, f"expected days (UCUM code d), got {unit or 'no unit'!r}")
    return _quantity(value, where)


# Which entries are facts to import, by their status; the others are skipped with a warning.
# (R4 status codes: a result entered in error, a declined fill or a rejected consent is not one.)
IMPORTED_STATUS = {
    "Observation": ("final", "amended", "corrected"),
    "QuestionnaireResponse": ("completed", "amended"),
    "MedicationDispense": ("completed",),
    "Consent": ("active",),
}
NOT_CURRENT = {"inactive", "resolved", "remission", "refuted", "entered-in-error"}


def _skip_reason(kind: str, resource: Any) -> str | None:
    """Why this entry is not a fact to import, or None."""
    status = getattr(resource, "status", None)
    if kind in IMPORTED_STATUS and status not in IMPORTED_STATUS[kind]:
        allowed = ", ".join(IMPORTED_STATUS[kind])
        return f"status {status!r} is not imported (only {allowed})"
    if kind == "Consent" and resource.provision is not None and resource.provision.type not in (
        None, "permit",
    ):  # fmt: skip
        return "a consent that denies is not imported"
    if kind in ("Condition", "AllergyIntolerance"):
        codes = {
            c.code
            for concept in (resource.clinicalStatus, resource.verificationStatus) if concept
            for c in concept.coding or []
        }  # fmt: skip
        if codes & NOT_CURRENT:
            return f"not current ({', '.join(sorted(codes & NOT_CURRENT))}): not imported"
    if status == "entered-in-error":
        return "entered in error: not imported"
    return None


def _extension(resource: Any, url: str) -> Any:
    for extension in resource.extension or []:
        if extension.url == url:
            return (
                extension.valueCode
                if extension.valueCode is not None
                else extension.valueInteger
                if extension.valueInteger is not None
                else extension.valueDate
            )
    return None


def _quantity(value: Any, where: str) -> int:
    if value is None or value.value is None:
        raise _invalid(where, "a value is required")
    return _whole(Decimal(str(value.value)), where)


def _whole(number: Decimal, where: str) -> int:
    if number != number.to_integral_value() or number < 0 or number > 32767:
        raise _invalid(where, f"expected a whole number from 0 to 32767, got {number}")
    return int(number)


class _Reader:
    """Reads one Bundle's entries into rows, remembering what each reference now names."""

    def __init__(self, parsed: Bundle, clinic: Organisation, user: User) -> None:
        self.clinic, self.user = clinic, user
        self.entries = list(parsed.entry or [])
        self.kinds = tuple(
            e.resource.get_resource_type() if e.resource else "" for e in self.entries
        )
        self.rows: dict[str, Any] = {}  # reference ("Type/id" or fullUrl) -> row
        self.locations: dict[int, str] = {}
        self.notes: dict[int, str] = {}
        self.counts: dict[str, int] = {}
        self.resources: dict[str, Any] = {}  # reference -> resource, for Organization/Practitioner
        self.external: dict[tuple[str, str], Any] = {}
        for entry in self.entries:
            if entry.resource is None:
                continue
            for name in self._names(entry):
                self.resources[name] = entry.resource
        self.now = timezone.now()
        self.validity_end: dict[int, Any] = {}  # prescription pk -> the last day to fill it
        self.by_index: dict[int, Any] = {}
        self.pregnancy_codes = {c.loinc for c in load_codes().pregnancy_tests if not c.quantitative}

    @staticmethod
    def _names(entry: Any) -> list[str]:
        names = (
            [f"{entry.resource.get_resource_type()}/{entry.resource.id}"]
            if entry.resource.id
            else []
        )
        return names + ([entry.fullUrl] if entry.fullUrl else [])

    def day(self, value: Any, where: str, *, future: bool = False) -> dt.date:
        """A date of the patient's history: as `_day`, and in its window too (dates.py), as a
        date typed in is: not before the patient's birth, and one that may lie ahead (`future`)
        not more than a year ahead."""
        day = _day(value, where, future=future)
        return date_in_window(day, where, born=self.patient_row.birth_date, ahead=future)

    def optional_day(self, value: Any, where: str, *, future: bool = False) -> dt.date | None:
        return None if value is None else self.day(value, where, future=future)

    def remember(self, index: int, row: Any, location: str) -> None:
        for name in self._names(self.entries[index]):
            self.rows[name] = row
        self.locations[index] = location
        self.by_index[index] = row
        kind = self.kinds[index]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        # Where each row came from, in the audit trail: imported, by whom, from which entry.
        audit_record(
            actor=self.user, action="fhir_import", obj=row,
            patient_id=getattr(self, "patient_row", row).pk,
            detail={"entry": index, "fullUrl": self.entries[index].fullUrl or "",
                    "source_id": getattr(self.entries[index].resource, "id", None)},
        )  # fmt: skip

    def row(self, reference: Any, kind: type, where: str, *, required: bool = True) -> Any:
        """The row an entry of this Bundle became, by its reference; 400 if there is none."""
        ref = getattr(reference, "reference", None)
        row = self.rows.get(ref) if ref else None
        if isinstance(row, kind):
            return row
        if row is None and not required and not ref:
            return None
        name = kind.__name__
        raise _invalid(
            where, f"must refer to an entry of this Bundle that is a {name} (got {ref!r})"
        )

    def run(self) -> Imported:
        patients = [i for i, kind in enumerate(self.kinds) if kind == "Patient"]
        if len(patients) != 1:
            raise _invalid("Bundle.entry", f"expected exactly one Patient, found {len(patients)}")
        readers: dict[str, Callable[[int, Any, str], None]] = {
            "Patient": self.patient,
            "Condition": self.condition,
            "AllergyIntolerance": self.allergy,
            "CarePlan": self.course,
            "MedicationRequest": self.prescription,
            "MedicationDispense": self.dispense,
            "Consent": self.consent,
            "Observation": self.observation,
            "QuestionnaireResponse": self.questionnaire_response,
        }
        with transaction.atomic():
            for kind in ORDER:
                for index, entry in enumerate(self.entries):
                    if self.kinds[index] != kind:
                        continue
                    skip = _skip_reason(kind, entry.resource) if kind != "Patient" else None
                    if skip:
                        self.notes[index] = skip
                        continue
                    readers[kind](index, entry.resource, f"Bundle.entry[{index}].resource")
            self._cancel_unfilled()
        for index, kind in enumerate(self.kinds):
            if kind not in readers:
                self.notes.setdefault(index, NOT_IMPORTED.get(kind, f"{kind} is not imported"))
        return Imported(self.patient_row, self.kinds, self.locations, self.notes, self.counts)

    # --- the patient and the clinic's record of them ---------------------------------------------

    def patient(self, index: int, resource: Any, where: str) -> None:
        clinic = self.clinic
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
        birth_date = _day(resource.birthDate, f"{where}.birthDate")
        if problem := age_over_bound(birth_date, timezone.localdate()):
            raise _invalid(f"{where}.birthDate", problem)
        twin = Patient.objects.filter(
            clinic=clinic, family_name__iexact=family.strip(), given_name__iexact=given.strip(),
            birth_date=birth_date,
        ).first()  # fmt: skip
        if twin is not None:
            raise _invalid(where, f"{given} {family}, born {birth_date}, is already a patient here "
                           f"(Patient/patient-{twin.pk}): add to that record instead")  # fmt: skip
        telecom = {t.system: t.value for t in (resource.telecom or []) if t.value}
        country = next((a.country for a in (resource.address or []) if a.country), "")
        patient = Patient(
            clinic=clinic,
            given_name=given,
            family_name=family,
            birth_date=birth_date,
            administrative_gender=gender,
            jurisdiction=clinic.jurisdiction,
            clinic_record_number=number,
            phone=telecom.get("phone", ""),
            email=telecom.get("email", ""),
            country=country if len(country) == 2 else "",
        )
        self._save(patient, where)
        self.patient_row = patient
        self.previous_clinic = resource.managingOrganization
        self.remember(index, patient, f"Patient/patient-{patient.pk}")

    def _subject(self, resource: Any, where: str, attribute: str = "subject") -> None:
        self.row(getattr(resource, attribute), Patient, f"{where}.{attribute}")

    def condition(self, index: int, resource: Any, where: str) -> None:
        self._subject(resource, where)
        codes = _codes(resource.code, ICD10)
        if not codes:
            raise _invalid(f"{where}.code", f"an ICD-10 code ({ICD10}) is required")
        text = (resource.code.text or "").strip() or codes[0]
        recorded = self.optional_day(resource.recordedDate, f"{where}.recordedDate")
        row = Diagnosis(
            patient=self.patient_row,
            icd10_code=codes[0],
            description=text,
            recorded_on=recorded or self.now.date(),
            recorded_by=self.user,
        )
        self._save(row, where)
        self.remember(index, row, f"Condition/condition-{row.pk}")

    def allergy(self, index: int, resource: Any, where: str) -> None:
        self._subject(resource, where, "patient")
        substance = (resource.code.text or "").strip() if resource.code else ""
        if not substance and resource.code:
            substance = next((c.display or c.code for c in resource.code.coding or []), "") or ""
        if not substance:
            raise _invalid(f"{where}.code", "the substance is required (code.text)")
        reactions = [
            m.text or next((c.display for c in m.coding or [] if c.display), "")
            for r in resource.reaction or []
            for m in r.manifestation or []
        ]
        recorded = self.optional_day(resource.recordedDate, f"{where}.recordedDate")
        row = Allergy(
            patient=self.patient_row,
            substance=substance,
            reaction="; ".join(r for r in reactions if r)[:200],
            recorded_on=recorded or self.now.date(),
            recorded_by=self.user,
        )
        self._save(row, where)
        self.remember(index, row, f"AllergyIntolerance/allergy-{row.pk}")

    # --- courses, prescriptions and fills -------------------------------------------------------

    def _external(self, reference: Any, role: str, where: str) -> User:
        """An inactive account for a prescriber or pharmacist named by the history."""
        ref = getattr(reference, "reference", None) or ""
        key = (role, ref)
        if key in self.external:
            return self.external[key]
        practitioner = self.resources.get(ref)
        if ref and (practitioner is None or practitioner.get_resource_type() != "Practitioner"):
            raise _invalid(
                where, f"must refer to a Practitioner entry of this Bundle (got {ref!r})"
            )
        kind = Organisation.Kind.CLINIC if role == Role.PRESCRIBER else Organisation.Kind.PHARMACY
        organisation = self._external_organisation(None, kind)
        given = family = professional = ""
        if practitioner is not None:
            name = (practitioner.name or [None])[0]
            family = (name.family or "") if name else ""
            given = ((name.given or [""])[0] or "") if name else ""
            if name and not (family or given) and name.text:
                family = name.text
            professional = next((i.value for i in practitioner.identifier or [] if i.value), "")
        user = User(
            username=f"external-{uuid.uuid4().hex[:16]}",
            role=role,
            organisation=organisation,
            is_active=False,
            first_name=given[:150],
            last_name=(family or "(not named)")[:150],
            professional_id=professional[:40],
        )
        user.set_unusable_password()
        user.save()
        self.external[key] = user
        return user

    def _external_organisation(self, reference: Any, kind: str) -> Organisation:
        ref = getattr(reference, "reference", None) or ""
        if not ref and kind == Organisation.Kind.CLINIC:
            ref = getattr(self.previous_clinic, "reference", None) or ""
        key = (kind, ref)
        if key in self.external:
            return self.external[key]
        resource = self.resources.get(ref)
        name = getattr(resource, "name", None) if resource is not None else None
        organisation = Organisation.objects.create(
            name=(name or f"External {kind} (imported)")[:200],
            kind=kind,
            jurisdiction=self.clinic.jurisdiction,
            external=True,
        )
        self.external[key] = organisation
        return organisation

    def course(self, index: int, resource: Any, where: str) -> None:
        self._subject(resource, where)
        statuses = [
            c for concept in resource.category or [] for c in _codes(concept, COURSE_STATUS)
        ]
        plan_status = "active" if resource.status == "on-hold" else resource.status
        from_plan = COURSE_STATUS_OF_PLAN.get(plan_status)
        status = statuses[0] if statuses else from_plan
        if statuses and CARE_PLAN_STATUS.get(statuses[0]) != plan_status:
            raise _invalid(f"{where}.status", f"{resource.status!r} contradicts the course status "
                           f"{statuses[0]!r} of its category")  # fmt: skip
        if status not in CourseStatus.__members__.values():
            raise _invalid(f"{where}.status", "expected draft, active, completed or revoked")
        detail = (resource.activity or [None])[0]
        detail = detail.detail if detail is not None else None
        products = _codes(detail.productCodeableConcept, PRODUCT) if detail else []
        known = [p.slug for p in load_catalogue().products]
        if not products or products[0] not in known:
            raise _invalid(
                f"{where}.activity[0].detail.productCodeableConcept",
                f"the product is required as a {PRODUCT} code: one of {', '.join(known)}",
            )
        icd = [c for concept in (detail.reasonCode or []) for c in _codes(concept, ICD10)]
        numbers = [i.value for i in resource.identifier or [] if i.system == COURSE_NUMBER]
        taken = {c.number for c in self.rows.values() if isinstance(c, Course)}
        try:
            number = int(numbers[0]) if numbers else max(taken, default=0) + 1
        except ValueError:
            raise _invalid(
                f"{where}.identifier", "the course number must be a whole number"
            ) from None
        if number in taken or number < 1:
            raise _invalid(
                f"{where}.identifier", f"course number {number} is used twice or below 1"
            )
        period = resource.period
        first = self.optional_day(period.start if period else None, f"{where}.period.start")
        last = self.optional_day(period.end if period else None, f"{where}.period.end")
        # The course's edition if it is one of this clinic's country; else the one in force here.
        pack = _extension(resource, RULE_PACK_EXTENSION)
        here = {p.id.value for p in load_packs() if p.jurisdiction == self.clinic.jurisdiction}
        if pack not in here:
            pack = rule_pack_for(self.clinic.jurisdiction, first or self.now.date()).value
        target = _extension(resource, TARGET_EXTENSION)
        note = next((n.text for n in resource.note or [] if n.text), "")
        course = Course(
            patient=self.patient_row,
            number=number,
            product=products[0],
            rule_pack=pack,
            indication_icd10=icd[0] if icd else "L70.0",
            status=status,
            prescriber=self._prescriber_for(resource, status, where),
            enrolled_on=self.optional_day(
                _extension(resource, ENROLLED_EXTENSION), f"{where}.extension"
            ),
            first_dose_on=first,
            last_dose_on=last,
            target_mg_per_kg=target if isinstance(target, int) else 120,
            stopped_reason=note.removeprefix("Stopped: ") if status == "stopped" else "",
        )
        if status in OPEN_STATUSES and any(
            isinstance(row, Course) and row.status in OPEN_STATUSES for row in self.rows.values()
        ):
            raise _invalid(
                f"{where}.status",
                "at most one course may be open (not completed or stopped); this Bundle has two",
            )
        if status in OPEN_STATUSES:
            course.awaiting_screening = True
        if status in OPEN_STATUSES and status != CourseStatus.SCREENING:
            course.status = CourseStatus.SCREENING
            self.notes[index] = (
                f"imported as a course in screening (it was {status}): screen the patient here, "
                "then start the course to go on with it"
            )
        self._save(course, where)
        self.remember(index, course, f"CarePlan/course-{course.pk}")

    def _prescriber_for(self, resource: Any, status: str, where: str) -> User:
        if status in OPEN_STATUSES and self.user.role == Role.PRESCRIBER:
            return self.user  # the course goes on here, with the prescriber who imports it
        return self._external(resource.author, Role.PRESCRIBER, f"{where}.author")

    def _course_of(self, resource: Any, where: str, *, required: bool) -> Course | None:
        based = (resource.basedOn or [None])[0]
        course = self.row(based, Course, f"{where}.basedOn", required=required)
        return course

    def prescription(self, index: int, resource: Any, where: str) -> None:
        self._subject(resource, where)
        course = self._course_of(resource, where, required=True)
        assert course is not None
        doses = [
            dr.doseQuantity.value
            for dosage in resource.dosageInstruction or []
            for dr in dosage.doseAndRate or []
            if dr.doseQuantity is not None and dr.doseQuantity.value is not None
        ]
        if not doses:
            raise _invalid(
                f"{where}.dosageInstruction", "the dose in mg is required (doseQuantity)"
            )
        request = resource.dispenseRequest
        if request is None:
            raise _invalid(f"{where}.dispenseRequest", "the quantity and days' supply are required")
        pharmacy = (
            self._external_organisation(request.performer, Organisation.Kind.PHARMACY)
            if request.performer is not None
            else None
        )
        cancelled = resource.status in ("cancelled", "stopped", "entered-in-error")
        rx = Prescription(
            course=course,
            prescriber=self._external(resource.requester, Role.PRESCRIBER, f"{where}.requester"),
            written_on=self.day(resource.authoredOn, f"{where}.authoredOn"),
            days_supply=_days(
                request.expectedSupplyDuration, f"{where}.dispenseRequest.expectedSupplyDuration"
            ),
            refills=request.numberOfRepeatsAllowed or 0,
            daily_dose_mg=_whole(sum(Decimal(str(d)) for d in doses), f"{where}.dosageInstruction"),
            quantity=_quantity(request.quantity, f"{where}.dispenseRequest.quantity"),
            pharmacy=pharmacy,
            cancelled_at=self.now if cancelled else None,
        )
        self._save(rx, where)
        validity = request.validityPeriod
        self.validity_end[rx.pk] = validity.end if validity is not None else None
        self.remember(index, rx, f"MedicationRequest/rx-{rx.pk}")

    def dispense(self, index: int, resource: Any, where: str) -> None:
        self._subject(resource, where)
        authorising = (resource.authorizingPrescription or [None])[0]
        rx = self.row(authorising, Prescription, f"{where}.authorizingPrescription")
        if hasattr(rx, "dispense"):
            raise _invalid(f"{where}.authorizingPrescription", "that prescription is filled twice")
        actors = {
            (getattr(p.actor, "reference", None) or "").split("/")[0]: p.actor
            for p in resource.performer or []
        }
        pharmacy = self._external_organisation(
            actors.get("Organization"), Organisation.Kind.PHARMACY
        )
        pharmacist = self._external(
            actors.get("Practitioner"), Role.PHARMACIST, f"{where}.performer"
        )
        if pharmacist.organisation_id != pharmacy.pk:
            pharmacist.organisation = pharmacy
            pharmacist.save(update_fields=["organisation"])
        end = self.validity_end.get(rx.pk)
        handed_over = self.day(resource.whenHandedOver, f"{where}.whenHandedOver")
        if handed_over < rx.written_on:
            raise _invalid(f"{where}.whenHandedOver", f"{handed_over} is before the prescription "
                           f"was written ({rx.written_on})")  # fmt: skip
        days = _days(resource.daysSupply, f"{where}.daysSupply")
        quantity = _quantity(resource.quantity, f"{where}.quantity")
        if days > rx.days_supply or quantity > rx.quantity:
            raise _invalid(f"{where}.quantity", f"{quantity} capsules for {days} days is more than "
                           f"the prescription's {rx.quantity} for {rx.days_supply}")  # fmt: skip
        row = Dispense(
            prescription=rx,
            dispensed_on=handed_over,
            days_supply=days,
            quantity=quantity,
            pharmacist=pharmacist,
            pharmacy=pharmacy,
            rma_number=next(
                (i.value for i in resource.identifier or [] if i.system == RMA_NUMBER and i.value),
                "",
            ),
            external_do_not_dispense_after=self.optional_day(
                end, f"{where}.authorizingPrescription", future=True
            ),
        )
        self._save(row, where)
        rx.dispense = row
        self.remember(index, row, f"MedicationDispense/dispense-{row.pk}")

    def _cancel_unfilled(self) -> None:
        """The history's prescriptions never filled arrive cancelled (see the module docstring)."""
        for index, row in self.by_index.items():
            if (
                isinstance(row, Prescription)
                and row.cancelled_at is None
                and not hasattr(row, "dispense")
            ):
                row.cancelled_at = self.now
                row.save(update_fields=["cancelled_at"])
                self.notes[index] = (
                    "an unfilled prescription from another system arrives cancelled: write it "
                    "here, where the programme checks it"
                )

    # --- consents, tests, labs, questionnaires --------------------------------------------------

    def consent(self, index: int, resource: Any, where: str) -> None:
        self.row(resource.patient, Patient, f"{where}.patient")
        data = (resource.provision.data or [None])[0] if resource.provision else None
        course = self.row(data.reference if data else None, Course, f"{where}.provision.data")
        kinds = [c for concept in resource.category or [] for c in _codes(concept, CONSENT_KIND)]
        if not kinds or kinds[0] not in ConsentKind.__members__.values():
            allowed = ", ".join(k.value for k in ConsentKind)
            raise _invalid(f"{where}.category", f"a {CONSENT_KIND} code is required: {allowed}")
        row = Consent(
            course=course,
            kind=kinds[0],
            signed_on=self.day(resource.dateTime, f"{where}.dateTime"),
            document_version=(resource.policyRule.text or "") if resource.policyRule else "",
            guardian_signed=any(
                p.display == "parent or guardian" for p in resource.performer or []
            ),
            recorded_by=self.user,
        )
        if self.patient_row.age_on(row.signed_on) < 18 and not row.guardian_signed:
            self.notes[index] = (
                "signed before 18 without a parent or guardian (programs.md 1.2): not imported; "
                "record it again with the guardian"
            )
            return
        if not row.document_version:
            raise _invalid(
                f"{where}.policyRule", "the document version is required (policyRule.text)"
            )
        self._save(row, where)
        self.remember(index, row, f"Consent/consent-{row.pk}")

    def observation(self, index: int, resource: Any, where: str) -> None:
        self._subject(resource, where)
        course = self._course_of(resource, where, required=False)
        codes = _codes(resource.code, LOINC)
        pregnancy_codes = self.pregnancy_codes
        lab_codes = {c.loinc: c.test for c in load_codes().lab_tests}
        if any(c in pregnancy_codes for c in codes):
            row: PregnancyTest | LabResult = self._pregnancy_test(resource, where)
            prefix = "pregnancy-test"
        elif any(c in lab_codes for c in codes):
            test = lab_codes[next(c for c in codes if c in lab_codes)]
            row = self._lab(resource, where, LabTest(test))
            prefix = "lab"
        else:
            raise _invalid(
                f"{where}.code",
                "expected the LOINC code of a qualitative pregnancy test or a monitoring lab",
            )
        row.course = course
        self._save(row, where)
        self.remember(index, row, f"Observation/{prefix}-{row.pk}")

    def _pregnancy_test(self, resource: Any, where: str) -> PregnancyTest:
        if resource.valueCodeableConcept is None:
            raise _invalid(
                f"{where}.valueCodeableConcept", "a positive or negative result is required"
            )
        answers = {code: slug for slug, (code, _) in RESULT_CODES.items()}
        results = [
            answers[c] for c in _codes(resource.valueCodeableConcept, SNOMED) if c in answers
        ]
        text = (resource.valueCodeableConcept.text or "").strip().lower()
        if not results and text in RESULT_CODES:
            results = [text]
        if len(set(results)) != 1:
            raise _invalid(
                f"{where}.valueCodeableConcept",
                "expected SNOMED 10828004 (positive) or 260385009 (negative)",
            )
        test_settings = _codes(resource.method, TEST_SETTING)
        if not test_settings or test_settings[0] not in {s.value for s in PregnancyTestSetting}:
            raise _invalid(
                f"{where}.method",
                f"the setting is required: a {TEST_SETTING} code lab, clinic or home",
            )
        return PregnancyTest(
            patient=self.patient_row,
            specimen_date=self.day(resource.effectiveDateTime, f"{where}.effectiveDateTime"),
            result=results[0],
            setting=test_settings[0],
            loinc_code=next(c for c in _codes(resource.code, LOINC) if c in self.pregnancy_codes),
            recorded_by=self.user,
        )

    def _lab(self, resource: Any, where: str, test: LabTest) -> LabResult:
        quantity = resource.valueQuantity
        if quantity is None or quantity.value is None:
            raise _invalid(f"{where}.valueQuantity", "a value with its unit is required")
        spelled = quantity.unit or {v: k for k, v in UCUM_CODES.items()}.get(
            quantity.code or "", ""
        )
        taken_on = self.day(resource.effectiveDateTime, f"{where}.effectiveDateTime")
        paths = {
            "value": "valueQuantity.value",
            "unit": "valueQuantity.unit",
            "taken_on": "effectiveDateTime",
            "test": "code",
        }
        try:
            lab = checked_lab(
                test, quantity.value, spelled, taken_on, born=self.patient_row.birth_date
            )
        except ValidationError as error:  # the same checks and thresholds as a result typed in
            name, messages = next(iter(error.message_dict.items()))
            raise _invalid(f"{where}.{paths.get(name, name)}", messages[0]) from None
        lab.patient, lab.recorded_by = self.patient_row, self.user
        lab.fasting = (
            True if any((n.text or "").strip() == "fasting" for n in resource.note or []) else None
        )
        return lab

    def questionnaire_response(self, index: int, resource: Any, where: str) -> None:
        self._subject(resource, where)
        questionnaire = resource.questionnaire or ""
        if questionnaire.startswith(MONTHLY_CHECK + ":"):
            self._monthly_check(index, resource, where, questionnaire.split(":")[-1])
        elif questionnaire.startswith(MOOD_QUESTIONNAIRE):
            self._mood(index, resource, where, questionnaire.removeprefix(MOOD_QUESTIONNAIRE))
        else:
            known = ", ".join(
                [f"{MOOD_QUESTIONNAIRE}{t.id}" for t in load_mood().tools]
                + [f"{MONTHLY_CHECK}:{k.value}" for k in MonthlyCheckKind]
            )
            raise _invalid(f"{where}.questionnaire", f"expected one of {known}")

    def _monthly_check(self, index: int, resource: Any, where: str, kind: str) -> None:
        if kind not in MonthlyCheckKind.__members__.values():
            raise _invalid(f"{where}.questionnaire", f"unknown monthly check {kind!r}")
        course = self._course_of(resource, where, required=True)
        answers, passed = {}, None
        for item in resource.item or []:
            if item.linkId == "passed":
                passed = _item_value(item)
            else:
                answers[item.linkId] = _item_value(item)
        row = MonthlyCheck(
            course=course,
            kind=kind,
            passed=passed,
            answers=answers,
            done_on=self.day(resource.authored, f"{where}.authored"),
            recorded_by=self.user,
        )
        self._save(row, where)
        self.remember(index, row, f"QuestionnaireResponse/monthly-{row.pk}")

    def _mood(self, index: int, resource: Any, where: str, tool: str) -> None:
        values = {item.linkId: _item_value(item) for item in resource.item or []}
        answers = [values.get(str(n)) for n in range(1, 10)]
        extras = {
            k.removeprefix("extra-"): bool(v) for k, v in values.items() if k.startswith("extra-")
        }
        try:
            result = score(tool, answers, extras=extras)  # type: ignore[arg-type]
        except MoodInputError as error:
            raise _invalid(f"{where}.item", f"{error.field}: {error.message}") from None
        if "total" in values and values["total"] != result.total:
            raise _invalid(
                f"{where}.item",
                f"the total {values['total']} is not the sum of the answers ({result.total})",
            )
        assessed_on = self.day(resource.authored, f"{where}.authored")
        row = MoodAssessment(
            patient=self.patient_row,
            course=self._course_of(resource, where, required=False),
            tool=result.tool,
            score=result.total,
            item9=result.item9,
            answers={"items": list(result.answers), "extras": extras},
            assessed_on=assessed_on,
            recorded_by=self.user,
        )
        self._save(row, where)
        recent = self.now.date() - dt.timedelta(days=settings.ISOGUARD_MOOD_CHECK_DAYS)
        if assessed_on >= recent:  # a recent screen is on the worklist as if answered here
            worklist_report(row, load_mood().tool(result.tool), result, self.user)
        self.remember(index, row, f"QuestionnaireResponse/mood-{row.pk}")

    # ---------------------------------------------------------------------------------------------

    def _save(self, row: Any, where: str) -> None:
        try:
            row.full_clean(validate_unique=True, validate_constraints=True)
        except ValidationError as error:
            name, messages = next(iter(error.message_dict.items()))
            raise _invalid(where, f"{name}: {' '.join(messages)}") from None
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError as error:
            raise _invalid(where, f"conflicts with what is stored: {error}") from None


def _item_value(item: Any) -> Any:
    """An item's answer back as it was stored (the inverse of mapping._answer_item)."""
    if item.item:
        return {child.linkId.rsplit(".", 1)[-1]: _item_value(child) for child in item.item}
    answer = (item.answer or [None])[0]
    if answer is None:
        return None
    for name in ("valueBoolean", "valueInteger", "valueString", "valueDecimal"):
        value = getattr(answer, name, None)
        if value is not None:
            return value
    return None


def import_entries(
    bundle_json: str | bytes | dict[str, Any], clinic: Organisation, user: User
) -> Imported:
    """Create a patient with their history from a transaction Bundle; see the module docstring."""
    return _Reader(parse_bundle(bundle_json), clinic, user).run()


def import_bundle(
    bundle_json: str | bytes | dict[str, Any], clinic: Organisation, user: User
) -> Patient:
    """`import_entries`, returning the patient."""
    return import_entries(bundle_json, clinic, user).patient
