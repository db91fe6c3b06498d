"""Who may see which patient: the one place the object-level access rules live.

- a patient sees their own record; a guardian the records of the patients they act for;
- a prescriber and clinic staff see their clinic's patients;
- a pharmacist sees a patient only through a prescription presented at their pharmacy;
- an administrator manages organisations and users, and sees no clinical record.
Every view of a record, and every refusal, goes to the audit trail.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.core.vocabulary import Role
from isoguard.patients.models import Patient

if TYPE_CHECKING:
    from isoguard.courses.models import Prescription


def patients_visible_to(user: User) -> QuerySet[Patient]:
    """Return the patients whose records `user` may see."""
    patients = Patient.objects.all()
    if not (user.is_authenticated and user.is_active):
        return patients.none()
    match user.role:
        case Role.PRESCRIBER | Role.CLINIC_STAFF if user.organisation_id is not None:
            return patients.filter(clinic_id=user.organisation_id)
        case Role.PHARMACIST if user.organisation_id is not None:
            ids = pharmacy_prescriptions(user.organisation_id).values("course__patient_id")
            return patients.filter(pk__in=ids)
        case Role.PATIENT:
            return patients.filter(user=user)
        case Role.GUARDIAN:
            # A parent's access ends when the patient turns 18, unless the guardianship is
            # recorded as continuing into adulthood.
            today = timezone.localdate()
            ids = Patient.objects.filter(
                Q(guardianships__until__isnull=True) | Q(guardianships__until__gte=today),
                Q(birth_date__gt=eighteen_years_before(today))
                | Q(guardianships__continues_into_adulthood=True),
                guardianships__guardian=user,
                guardianships__since__lte=today,
            ).values("pk")
            return patients.filter(pk__in=ids)
        case _:
            return patients.none()


def pharmacy_prescriptions(pharmacy_id: int) -> QuerySet[Prescription]:
    """The prescriptions a pharmacy may see: those presented there, a cancelled one only if this
    pharmacy filled it. The one rule for the pharmacist's access, lists and FHIR reads."""
    from isoguard.courses.models import Prescription

    return Prescription.objects.filter(
        Q(cancelled_at__isnull=True) | Q(dispense__pharmacy_id=pharmacy_id),
        pharmacy_id=pharmacy_id,
    )


def pharmacy_sees(pharmacy_id: int, rx: Prescription, filled_at: int | None) -> bool:
    """Whether `rx`, already read, is one of pharmacy_prescriptions(pharmacy_id): the same rule
    for one row in hand (`filled_at`: the pharmacy of its dispense, if it was filled).
    tests/patients/test_access.py checks that the two agree on every case."""
    return rx.pharmacy_id == pharmacy_id and (rx.cancelled_at is None or filled_at == pharmacy_id)


def eighteen_years_before(day: datetime.date) -> datetime.date:
    """Return the latest birth date of someone who is 18 or older on `day`."""
    try:
        return day.replace(year=day.year - 18)
    except ValueError:  # 29 February: whoever was born on 28 February 18 years ago is 18
        return datetime.date(day.year - 18, 2, 28)


def patient_for(
    user: User,
    patient_id: int,
    *,
    request: HttpRequest | None = None,
    action: str = "view",
    audit_access: bool = True,
) -> Patient:
    """Return the patient if `user` may see them, auditing the access; else refuse and audit.

    `audit_access=False` is for a caller that audits this same action on this patient itself
    before the request ends (one event for the access and what was done, not two); a refusal is
    always audited here."""
    patient = patients_visible_to(user).filter(pk=patient_id).first()
    if patient is None:
        refuse_patient(user, patient_id, action=action, request=request,
                       reason=f"a {user.role or 'visitor'} may not see this patient's record",
                       message="You may not see this patient's record.")  # fmt: skip
    if audit_access:
        audit_record(actor=user, action=action, obj=patient, patient_id=patient.pk, request=request)
    return patient


def refuse_patient(
    user: User,
    patient_id: int,
    *,
    action: str,
    reason: str,
    message: str,
    request: HttpRequest | None = None,
) -> NoReturn:
    """Audit a refused access to a patient's record (the patient named only if they exist) and
    raise PermissionDenied with `message`."""
    audit_record(
        actor=user,
        action=action,
        object_type="patients.patient",
        object_id=str(patient_id),
        patient_id=patient_id if Patient.objects.filter(pk=patient_id).exists() else None,
        outcome=AuditEvent.Outcome.REFUSED,
        reason=reason,
        request=request,
    )
    raise PermissionDenied(message)


def require_role(
    user: User,
    roles: tuple[Role, ...],
    *,
    action: str,
    obj: Any = None,
    patient_id: int | None,
    request: HttpRequest | None = None,
) -> None:
    """Refuse, and audit the refusal, unless `user` has one of `roles`.

    Without `obj`, the refusal is recorded against the patient.
    """
    if user.role in roles:
        return
    names = " or ".join(r.value.replace("_", " ") for r in roles)
    audit_record(
        actor=user,
        action=action,
        obj=obj,
        object_type="" if obj is not None or patient_id is None else "patients.patient",
        object_id="" if obj is not None or patient_id is None else str(patient_id),
        patient_id=patient_id,
        outcome=AuditEvent.Outcome.REFUSED,
        reason=f"only a {names} may do this",
        request=request,
    )
    raise PermissionDenied(f"Only a {names} may do this.")
