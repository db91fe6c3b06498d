"""Typed response schemas of /api/v1/."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool, StrictStr


class ErrorDetail(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(Schema):
    """The one error shape of the API: {"error": {"code", "message", "field"}}."""

    error: ErrorDetail


class Me(Schema):
    username: str
    role: str
    organisation: str | None


class PatientSummary(Schema):
    id: int
    given_name: str
    family_name: str
    birth_date: dt.date
    jurisdiction: str
    clinic: str


class MedicineIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr
    rxnorm: StrictStr | None = None


class ScreeningRequest(Schema):
    """What the prescriber knows; birth date and country come from the patient's record."""

    model_config = ConfigDict(extra="forbid")
    diagnosis: StrictStr = Field(description="an indication id, see docs/screening.md")
    failed_treatments: list[StrictStr] = []
    can_become_pregnant: StrictBool | None = None
    pregnant: StrictBool = False
    breastfeeding: StrictBool = False
    allergies: list[StrictStr] = []
    medicines: list[StrictStr | MedicineIn] = []
    history: list[StrictStr] = Field(default=[], description="condition ids or free text")
    previous_course_last_dose: dt.date | None = None


class ScreeningOut(Schema):
    id: int
    patient_id: int
    as_of: dt.date
    outcome: str
    course_id: int | None
    result: dict[str, Any]


class SymptomReportIn(Schema):
    """What the patient says: their own words, and/or ids of the symptom checklist."""

    model_config = ConfigDict(extra="forbid")
    text: StrictStr = Field("", max_length=5000)
    symptoms: list[StrictStr] = Field(default_factory=list, max_length=40)


class ConceptOut(Schema):
    id: str
    level: str
    evidence: str


class CallOut(Schema):
    kind: str
    label: str
    number: str


class AdviceOut(Schema):
    level: str
    urgent: bool
    calls: list[CallOut]
    headline: str
    tips: list[str]
    notes: list[str]


class SymptomReportOut(Schema):
    id: int
    patient_id: int
    submitted_at: dt.datetime
    text: str
    symptoms: list[str]
    triage_state: str
    level: str | None
    concepts: list[ConceptOut]
    review_state: str
    acknowledged_at: dt.datetime | None
    reviewed_at: dt.datetime | None
    review_note: str
    advice: AdviceOut


class FindingOut(Schema):
    rule: str
    status: str
    message: str
    source: str = ""
    deadline: dt.date | None = None


class DispenseAuthorisationOut(Schema):
    """The programme's answer for one fill: allowed or not, why, and the last day to fill."""

    id: int
    prescription_id: int
    allowed: bool
    pack: str
    dispense_by: dt.date | None
    as_of: dt.datetime
    findings: list[FindingOut]
    unmet: list[str] = Field(description="the messages of the requirements not met: what to do")


class DispenseIn(Schema):
    """The fill the pharmacist hands over (capsules, days), with iPLEDGE's RMA where it applies."""

    model_config = ConfigDict(extra="forbid")
    quantity: int = Field(ge=1, le=1000)
    days_supply: int = Field(ge=1, le=30)
    rma_number: StrictStr = Field("", max_length=40)
    external_do_not_dispense_after: dt.date | None = None


class DispenseOut(Schema):
    id: int
    prescription_id: int
    dispensed_on: dt.date
    quantity: int
    days_supply: int
    rma_number: str
    pharmacy: str
