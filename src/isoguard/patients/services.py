"""Changes to a patient's own details, by the clinic, audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from isoguard.accounts.models import User
from isoguard.audit.services import audit_record
from isoguard.core.helplines import COUNTRY_CHOICES
from isoguard.core.vocabulary import Role
from isoguard.patients.access import patient_for, require_role
from isoguard.patients.models import Patient

CLINIC_ROLES = (Role.PRESCRIBER, Role.CLINIC_STAFF)


def patient_country_set(
    *, user: User, patient_id: int, country: str, request: HttpRequest | None = None
) -> Patient:
    """Record where the patient lives, for the emergency and crisis numbers they are shown."""
    require_role(user, CLINIC_ROLES, action="set_country", patient_id=patient_id,
                 request=request)  # fmt: skip
    patient = patient_for(user, patient_id, action="set_country", request=request)
    code = (country or "").strip().upper()
    allowed = [c for c, _ in COUNTRY_CHOICES]
    if code and code not in allowed:
        raise ValidationError(
            {"country": f"unknown country {country!r}; allowed: {', '.join(allowed)}, or empty"}
        )
    with transaction.atomic():
        before = patient.country
        patient.country = code
        patient.save(update_fields=["country"])
        audit_record(actor=user, action="update", obj=patient, patient_id=patient.pk,
                     request=request, detail={"country": [before, code]})  # fmt: skip
    return patient
