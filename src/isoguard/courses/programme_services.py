"""The rule engine in the clinic and the pharmacy: decisions kept, fills recorded exactly once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, router, transaction
from django.http import HttpRequest
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.core import model
from isoguard.core.programs import decision_to_dict, evaluate
from isoguard.core.vocabulary import Action, FindingStatus, Role, RulePack
from isoguard.courses.convert import course_records
from isoguard.courses.dates import date_in_window
from isoguard.courses.models import (
    Course,
    Dispense,
    MedicationGuideAck,
    Prescription,
    ProgrammeDecision,
)
from isoguard.operations.prepared import PreparedValues, attnames, loaded
from isoguard.patients.access import patient_for, pharmacy_sees
from isoguard.patients.models import Patient


def pack_starts() -> dict[str, dt.date]:
    """The start dates of editions the clinic has set, by pack (packs.toml names the setting)."""
    start = settings.ISOGUARD_US_IPLEDGE_2026_START
    return {RulePack.US_IPLEDGE_2026.value: start} if start is not None else {}


def engine_decision(
    course: Course, action: Action, as_of: dt.datetime, extra: tuple[model.Event, ...] = ()
) -> model.Decision:
    """Return the engine's decision on the course as recorded, plus `extra` events."""
    record = course_records([course])[course.pk]  # a query per kind of row, not per row
    if extra:
        record = dataclasses.replace(record, events=(*record.events, *extra))
    # A pack that counts days in "local" time counts them in the clinic's zone, not UTC's: a
    # prescription that expired at midnight in Berlin is expired at 00:30 there.
    decision = evaluate(
        record, action, timezone.localtime(as_of), pack=course.rule_pack,
        settings=settings.ISOGUARD_PACK_SETTINGS.get(course.rule_pack, {}),
        pack_starts=pack_starts(),
    )  # fmt: skip
    if course.awaiting_screening:  # imported open: another system's checks do not count here
        return dataclasses.replace(
            decision, allowed=False, dispense_by=None,
            findings=(NOT_SCREENED_HERE, *decision.findings),
        )  # fmt: skip
    return decision


NOT_SCREENED_HERE = model.Finding(
    rule="screened_here",
    status=FindingStatus.UNMET,
    message="This course was imported from another system and the patient has not been "
    "screened here: screen the patient, then start the course from that screening to go on "
    "with it (its history is kept).",
    source="isoguard policy: an imported course is not authorised on another system's checks "
    "(docs/integration.md, Import)",
)


def decision_store(
    decision: model.Decision,
    course: Course,
    prescription: Prescription | None,
    user: User,
    as_of: dt.datetime,
) -> ProgrammeDecision:
    return ProgrammeDecision.objects.create(
        course=course, prescription=prescription, action=decision.action, as_of=as_of,
        pack=decision.pack, allowed=decision.allowed, dispense_by=decision.dispense_by,
        findings=decision_to_dict(decision)["findings"], requested_by=user,
    )  # fmt: skip


@functools.cache
def _presented() -> PreparedValues:
    """A prescription with its course and patient, and the pharmacy that filled it, read in one
    compiled query (prepared.py): the pharmacy's every request starts here."""
    return PreparedValues(
        "presented", lambda ids: Prescription.objects.filter(pk__in=ids),
        *attnames(Prescription), *(f"course__{a}" for a in attnames(Course)),
        *(f"course__patient__{a}" for a in attnames(Patient)), "dispense__pharmacy_id",
    )  # fmt: skip


def _prescription_read(prescription_id: int) -> tuple[Prescription, int | None] | None:
    """The prescription, its course and patient loaded (as select_related would), and the
    pharmacy of its dispense if it was filled; None if there is no such prescription."""
    using = router.db_for_read(Prescription)
    rows = _presented().rows([prescription_id], using)
    if not rows:
        return None
    (rx, course, patient), (filled_at,) = loaded(using, rows[0], Prescription, Course, Patient)
    course.patient = patient
    rx.course = course
    return rx, filled_at


def pharmacy_prescription(
    user: User,
    prescription_id: int,
    action: str,
    request: HttpRequest | None,
    *,
    audit_access: bool = True,
) -> Prescription:
    """Return the prescription if `user` is a pharmacist of the pharmacy it was presented at
    (`audit_access`: as patient_for takes it)."""
    read = _prescription_read(prescription_id)
    if read is None:
        raise PermissionDenied("No such prescription at your pharmacy.")
    rx, filled_at = read
    if (
        user.role == Role.PHARMACIST
        and user.organisation_id is not None
        and user.is_active
        and pharmacy_sees(user.organisation_id, rx, filled_at)
    ):
        # A prescription the pharmacy may see shows it the patient (access.patients_visible_to):
        # no second look is needed.
        if audit_access:
            audit_record(actor=user, action=action, obj=rx.course.patient,
                         patient_id=rx.course.patient_id, request=request)  # fmt: skip
        return rx
    if (
        user.role != Role.PHARMACIST
        or rx.pharmacy_id is None
        or rx.pharmacy_id != user.organisation_id
    ):
        audit_record(
            actor=user,
            action=action,
            obj=rx,
            patient_id=rx.course.patient_id,
            outcome=AuditEvent.Outcome.REFUSED,
            request=request,
            reason="only a pharmacist of the pharmacy it was presented at",
        )
        raise PermissionDenied("This prescription was not presented at your pharmacy.")
    # Presented here but cancelled, and not filled here: the patient is visible only through
    # another prescription (patient_for decides and audits); the cancellation is then the refusal.
    patient_for(user, rx.course.patient_id, action=action, request=request,
                audit_access=audit_access)  # fmt: skip
    return rx


def _refuse_if_cancelled(rx: Prescription) -> None:
    """A cancelled prescription is never authorised or filled: the engine decides on the course's
    newest live prescription, so the one being filled must be that prescription's own row."""
    if rx.cancelled_at is not None:
        raise ValidationError(
            f"This prescription was cancelled on {timezone.localtime(rx.cancelled_at):%Y-%m-%d}: "
            "ask the prescriber for the current one."
        )


def dispense_authorisation(
    *, user: User, prescription_id: int, request: HttpRequest | None = None
) -> ProgrammeDecision:
    """Ask the engine whether this prescription may be dispensed now; keep and audit the answer."""
    # The access is audited by the decision's own event below (same action, same patient).
    rx = pharmacy_prescription(user, prescription_id, "authorise_dispense", request,
                               audit_access=False)  # fmt: skip
    now = timezone.now()
    try:
        _refuse_if_cancelled(rx)
        decision = engine_decision(rx.course, Action.DISPENSE, now)
        with transaction.atomic():  # the decision and its audit event, together or neither
            stored = decision_store(decision, rx.course, rx, user, now)
            audit_record(
                actor=user,
                action="authorise_dispense",
                obj=stored,
                request=request,
                patient_id=rx.course.patient_id,
                outcome=AuditEvent.Outcome.ALLOWED
                if decision.allowed
                else AuditEvent.Outcome.REFUSED,
                detail={"prescription": rx.pk, "dispense_by": str(decision.dispense_by)},
            )
    except Exception as failure:
        # Refused (a cancelled prescription) or failed half way: no decision was kept, and the
        # access is audited all the same.
        reason = (
            " ".join(failure.messages)
            if isinstance(failure, ValidationError)
            else f"no decision: {type(failure).__name__}"
        )
        audit_record(actor=user, action="authorise_dispense", obj=rx, request=request,
                     patient_id=rx.course.patient_id, outcome=AuditEvent.Outcome.REFUSED,
                     reason=reason)  # fmt: skip
        raise
    return stored


def medication_guide_record(
    *, user: User, prescription_id: int, request: HttpRequest | None = None
) -> MedicationGuideAck:
    """Record that the patient received and acknowledged the Medication Guide for this fill."""
    rx = pharmacy_prescription(user, prescription_id, "record_medication_guide", request)
    return medication_guide_ack(rx, user, request)


def medication_guide_ack(
    rx: Prescription, user: User, request: HttpRequest | None
) -> MedicationGuideAck:
    """The acknowledgement of this fill's Medication Guide, once, whoever records it (the
    pharmacist, or the patient on their checklist); the caller has checked who may."""
    _refuse_if_cancelled(rx)
    with transaction.atomic():
        ack, created = MedicationGuideAck.objects.get_or_create(
            prescription=rx, defaults={"acknowledged_on": timezone.localdate(),
                                       "acknowledged_by": user},
        )  # fmt: skip
        if created:
            audit_record(actor=user, action="create", obj=ack, patient_id=rx.course.patient_id,
                         request=request)  # fmt: skip
    return ack


def dispense_record(
    *,
    user: User,
    prescription_id: int,
    quantity: int,
    days_supply: int,
    rma_number: str = "",
    external_do_not_dispense_after: dt.date | None = None,
    request: HttpRequest | None = None,
) -> Dispense:
    """Record the fill, once, if the engine allows it now; raise ValidationError with why not.

    Two pharmacists pressing the button together record one dispense: the prescription row is
    locked, the engine is asked again inside the transaction, and the one-to-one key refuses a
    second row even where the lock is not enough.
    """
    rx = pharmacy_prescription(user, prescription_id, "dispense", request)
    _refuse_if_cancelled(rx)
    if not 1 <= quantity <= rx.quantity:
        raise ValidationError(
            {"quantity": f"Between 1 and {rx.quantity} capsules (the prescription's quantity)."}
        )
    if not 1 <= days_supply <= min(rx.days_supply, 30):
        raise ValidationError({"days_supply": f"Between 1 and {min(rx.days_supply, 30)} days."})
    today = timezone.localdate()
    if external_do_not_dispense_after is not None and today > external_do_not_dispense_after:
        raise ValidationError({"external_do_not_dispense_after": (
            f"iPLEDGE's do-not-dispense-after date ({external_do_not_dispense_after}) has passed: "
            "a new authorisation is needed.")})  # fmt: skip
    if external_do_not_dispense_after is not None:
        # A date years ahead is a typo: iPLEDGE's window is days (dates.py).
        date_in_window(external_do_not_dispense_after, "external_do_not_dispense_after",
                       born=rx.course.patient.birth_date, ahead=True)  # fmt: skip
    try:
        with transaction.atomic():
            locked = Prescription.objects.select_for_update().get(pk=rx.pk)
            _refuse_if_cancelled(locked)
            if Dispense.objects.filter(prescription=locked).exists():
                raise ValidationError("This prescription has already been dispensed.")
            now = timezone.now()
            decision = engine_decision(locked.course, Action.DISPENSE, now)
            if not decision.allowed:
                reasons = "; ".join(f.message for f in decision.findings if f.status != "met")
                raise ValidationError(f"Not authorised: {reasons}")
            # The decision the fill rests on is kept with the others.
            decision_store(decision, locked.course, locked, user, now)
            dispense = Dispense.objects.create(
                prescription=locked,
                dispensed_on=today,
                days_supply=days_supply,
                quantity=quantity,
                pharmacist=user,
                pharmacy_id=user.organisation_id,
                rma_number=rma_number,
                external_do_not_dispense_after=external_do_not_dispense_after,
            )
            differs = (
                external_do_not_dispense_after is not None
                and external_do_not_dispense_after != decision.dispense_by
            )
            audit_record(
                actor=user,
                action="create",
                obj=dispense,
                request=request,
                patient_id=rx.course.patient_id,
                detail={
                    "dispense_by": str(decision.dispense_by),
                    "ipledge_date": str(external_do_not_dispense_after),
                    "dates_differ": differs,
                },
            )
    except IntegrityError:
        raise ValidationError("This prescription has already been dispensed.") from None
    return dispense


def authorisation_reverse(
    *, user: User, decision_id: int, request: HttpRequest | None = None
) -> ProgrammeDecision:
    """Reverse an authorisation that was not picked up (the RMA reversal of iPLEDGE)."""
    decision = (
        ProgrammeDecision.objects.select_related("prescription").filter(pk=decision_id).first()
    )
    if decision is None:
        raise ValidationError({"decision": f"No authorisation {decision_id}."})
    if decision.prescription_id is None:
        raise ValidationError("Only a dispense authorisation can be reversed.")
    pharmacy_prescription(user, decision.prescription_id, "reverse_authorisation", request)
    if not decision.allowed or decision.reversed_at is not None:
        raise ValidationError("Only a standing authorisation can be reversed.")
    if Dispense.objects.filter(prescription_id=decision.prescription_id).exists():
        raise ValidationError("The prescription was dispensed: there is nothing to reverse.")
    decision.reversed_at = timezone.now()
    decision.save(update_fields=["reversed_at"])
    audit_record(
        actor=user,
        action="reverse_authorisation",
        obj=decision,
        request=request,
        patient_id=decision.course.patient_id,
    )
    return decision
