"""Writes: run and store a screening; start a course from one. Each checks access and audits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.audit.services import audit_record
from isoguard.core.knowledge.codes import load_codes
from isoguard.core.knowledge.packs import pack_in_force
from isoguard.core.knowledge.screening_data import load_screening
from isoguard.core.screening import Outcome, screen
from isoguard.core.screening_input import ScreeningInputError, screening_input_from_dict
from isoguard.core.vocabulary import CourseStatus, Jurisdiction, Role, RulePack
from isoguard.courses.dates import date_in_window
from isoguard.courses.models import OPEN_STATUSES, Course
from isoguard.courses.programme_services import pack_starts
from isoguard.patients.access import patient_for, require_role
from isoguard.patients.models import Allergy, CurrentMedicine, Patient
from isoguard.screenings.models import Screening


def require_prescriber(
    user: User, *, patient_id: int, action: str, request: HttpRequest | None = None
) -> None:
    """Refuse, and audit, anyone but a prescriber; patient_for then checks the clinic."""
    require_role(user, (Role.PRESCRIBER,), action=action, patient_id=patient_id, request=request)


def screening_request(
    patient: Patient, fields: dict[str, Any], *, as_of: dt.date
) -> dict[str, Any]:
    """Return the full request: the entered fields plus what the record already knows."""
    return {
        **fields,
        "as_of": as_of.isoformat(),
        "birth_date": patient.birth_date.isoformat(),
        "jurisdiction": patient.jurisdiction,
    }


def screening_run(
    *,
    user: User,
    patient_id: int,
    fields: dict[str, Any],
    as_of: dt.date | None = None,
    request: HttpRequest | None = None,
) -> Screening:
    """Screen the patient with the entered fields, store the answer, and audit it.

    Raises ScreeningInputError (naming the field) for bad input, a previous course's last dose
    out of its window included, before anything is stored.
    """
    require_prescriber(user, patient_id=patient_id, action="screen", request=request)
    # Access is checked before the transaction, so that the audit of a refusal is kept.
    patient = patient_for(user, patient_id, action="screen", request=request)
    with transaction.atomic():
        entered = screening_request(patient, fields, as_of=as_of or timezone.localdate())
        given = screening_input_from_dict(entered)
        _check_last_dose(patient, given.previous_course_last_dose)
        result = screen(given, overrides=settings.ISOGUARD_SCREENING_OVERRIDES)
        _remember_new_allergies_and_medicines(
            patient, given.allergies, given.medicines, user, request
        )
        screening = Screening.objects.create(
            patient=patient,
            as_of=given.as_of,
            request=entered,
            result=result.to_dict(),
            outcome=result.outcome,
            performed_by=user,
        )
        audit_record(
            actor=user,
            action="create",
            obj=screening,
            patient_id=patient.pk,
            request=request,
            detail={"outcome": result.outcome.value},
        )
    return screening


def _check_last_dose(patient: Patient, last_dose: dt.date | None) -> None:
    """Refuse a previous course's last dose out of its window (dates.py): the drug-free interval
    is counted from it. Raised as ScreeningInputError, as every other error of the request."""
    if last_dose is None:
        return
    try:
        date_in_window(last_dose, "previous_course_last_dose", born=patient.birth_date)
    except ValidationError as error:
        message = error.message_dict["previous_course_last_dose"][0]
        raise ScreeningInputError("previous_course_last_dose", message) from None


def _remember_new_allergies_and_medicines(
    patient: Patient,
    allergies: tuple[str, ...],
    medicines: tuple[Any, ...],
    user: User,
    request: HttpRequest | None,
) -> None:
    """Add to the patient's record the allergies and medicines first mentioned at screening."""
    today = timezone.localdate()
    known = {a.substance.casefold() for a in patient.allergies.all()}
    for allergy in allergies:
        if allergy.casefold() not in known:
            known.add(allergy.casefold())
            row = Allergy.objects.create(
                patient=patient, substance=allergy, recorded_on=today, recorded_by=user
            )
            audit_record(
                actor=user, action="create", obj=row, patient_id=patient.pk, request=request
            )
    taking = {m.name.casefold() for m in patient.medicines.filter(stopped_on__isnull=True)}
    for medicine in medicines:
        if medicine.name.casefold() not in taking:
            taking.add(medicine.name.casefold())
            row = CurrentMedicine.objects.create(
                patient=patient,
                name=medicine.name,
                rxnorm_code=medicine.rxnorm or "",
                recorded_by=user,
            )
            audit_record(
                actor=user, action="create", obj=row, patient_id=patient.pk, request=request
            )


def rule_pack_for(jurisdiction: str, on: dt.date) -> RulePack:
    return pack_in_force(Jurisdiction(jurisdiction), on, starts=pack_starts())


def course_start_from_screening(
    *,
    user: User,
    screening_id: int,
    product: str,
    acknowledge_cautions: bool,
    request: HttpRequest | None = None,
) -> Course:
    """Start (or plan) the patient's course from their latest screening, if it allows it.

    Refuses with a ValidationError that says why and what to do: a screening that is not the
    newest, one that found the patient not eligible, cautions not acknowledged, a product the
    screening did not find safe, or a course already under way.
    """
    found = Screening.objects.filter(pk=screening_id).values_list("patient_id", flat=True)
    if not found:
        raise ValidationError("No such screening.")
    require_prescriber(user, patient_id=found[0], action="start_course", request=request)
    # Access is checked before the transaction, so that the audit of a refusal is kept.
    patient = patient_for(user, found[0], action="start_course", request=request)
    with transaction.atomic():
        screening = Screening.objects.select_for_update().get(pk=screening_id)
        latest = Screening.objects.filter(patient=patient).order_by("-performed_at", "-id").first()
        if latest is None or latest.pk != screening.pk:
            raise ValidationError("A newer screening exists: start the course from that one.")
        if screening.course_id is not None:
            raise ValidationError("A course was already started from this screening.")
        if screening.outcome == Outcome.NOT_ELIGIBLE:
            raise ValidationError(
                "The screening found the patient not eligible; resolve the contraindications "
                "and screen again."
            )
        if screening.outcome == Outcome.ELIGIBLE_WITH_CAUTIONS and not acknowledge_cautions:
            raise ValidationError({"acknowledge_cautions": "Acknowledge the cautions first."})
        if product not in screening.safe_product_slugs:
            allowed = ", ".join(screening.safe_product_slugs)
            raise ValidationError({"product": f"Choose one of the safe products: {allowed}."})
        today = timezone.localdate()
        _check_drug_free_interval(patient, today)
        course = _open_or_new_course(patient, user)
        course.product = product
        course.rule_pack = rule_pack_for(patient.jurisdiction, today)
        course.prescriber = user
        course.indication_icd10 = _indication_code(screening)
        course.awaiting_screening = False  # an imported course goes on, screened here
        course.full_clean()
        course.save()
        screening.course = course
        if screening.outcome == Outcome.ELIGIBLE_WITH_CAUTIONS:
            screening.cautions_acknowledged_by = user
            screening.cautions_acknowledged_at = timezone.now()
        screening.save()
        audit_record(
            actor=user,
            action="start_course",
            obj=course,
            patient_id=patient.pk,
            request=request,
            detail={"screening": screening.pk, "product": product, "rule_pack": course.rule_pack},
        )
    return course


def _check_drug_free_interval(patient: Patient, today: dt.date) -> None:
    """Refuse a new course within the drug-free interval after the last one (clinical.md 2.1)."""
    last = patient.courses.filter(last_dose_on__isnull=False).aggregate(d=Max("last_dose_on"))["d"]
    weeks = load_screening().rule("second_course_too_soon").weeks or 8
    if last is not None and today < last + dt.timedelta(weeks=weeks):
        first_allowed = last + dt.timedelta(weeks=weeks)
        raise ValidationError(
            f"The last course ended on {last.isoformat()}; a new course may start on "
            f"{first_allowed.isoformat()} at the earliest ({weeks} weeks without the drug)."
        )


def _open_or_new_course(patient: Patient, user: User) -> Course:
    # Lock the patient's courses so that two clicks cannot open two courses at once.
    courses = Course.objects.select_for_update().filter(patient=patient)
    imported = courses.filter(awaiting_screening=True, status__in=OPEN_STATUSES).first()
    if imported is not None:  # an imported course goes on once screened here (importer.py)
        return imported
    open_course = courses.filter(status__in=[CourseStatus.ENROLLED, CourseStatus.ACTIVE]).first()
    if open_course is not None:
        raise ValidationError(
            f"Course {open_course.number} is {open_course.status}: finish or stop it before "
            "starting another."
        )
    planned = courses.filter(status=CourseStatus.SCREENING).first()
    if planned is not None:
        return planned
    number = (courses.aggregate(n=Max("number"))["n"] or 0) + 1
    return Course(patient=patient, number=number, status=CourseStatus.SCREENING, prescriber=user)


def _indication_code(screening: Screening) -> str:
    indication = load_screening().indication(screening.request["diagnosis"])
    return load_codes().diagnosis(indication.code).icd10
