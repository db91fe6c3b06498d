"""Side-effect reports: stored first, then triaged; the urgent ones on the clinic's worklist.

A report is written to the database before triage runs, in its own transaction, so a failure in
triage can never lose it: the report then stays at the top of the worklist, marked for review by
hand. Staff acknowledge a report (the patient sees that the clinic has seen it) and resolve it
with a note. Every step is audited.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.audit.services import audit_record
from isoguard.core.helplines import Country, helplines_for
from isoguard.core.triage import (
    ConceptFinding,
    TriageResult,
    load_checklist,
    load_triage,
    triage,
)
from isoguard.core.triage.advice import Advice, Call, advise, crisis_calls
from isoguard.core.vocabulary import CourseStatus, Role
from isoguard.courses.models import SymptomReport
from isoguard.patients.access import patient_for, patients_visible_to, require_role
from isoguard.patients.models import Patient

logger = logging.getLogger(__name__)

REPORTER_ROLES = (Role.PATIENT, Role.GUARDIAN, Role.PRESCRIBER, Role.CLINIC_STAFF)
# A mood screen is the patient's own answers: a parent does not see it, nor the report it raises.
SCREEN_ROLES = (Role.PATIENT, Role.PRESCRIBER, Role.CLINIC_STAFF)
STAFF_ROLES = (Role.PRESCRIBER, Role.CLINIC_STAFF)
MAX_TEXT = 5000
TOP_PRIORITY = 5
"""A report nobody has triaged yet (or that triage failed on) sorts with the emergencies."""


def worklist_min_priority() -> int:
    """Reports at `call_today` and above go on the clinic's worklist."""
    return load_triage().rank("call_today")


def report_submit(
    *,
    user: User,
    patient_id: int,
    text: str,
    ticked: list[str] | tuple[str, ...] = (),
    request: HttpRequest | None = None,
) -> SymptomReport:
    """Store what the patient says, then triage it; a failed triage leaves it for review by hand.

    Raises ValidationError naming the field for an empty report, a text over 5000 characters or
    an unknown checklist item; nothing is stored then.
    """
    require_role(user, REPORTER_ROLES, action="report_symptoms", patient_id=patient_id,
                 request=request)  # fmt: skip
    patient = patient_for(user, patient_id, action="report_symptoms", request=request)
    text = (text or "").strip()
    ticked = list(dict.fromkeys(ticked))
    if not text and not ticked:
        raise ValidationError(
            {"text": "Write how you feel, or tick at least one symptom on the list."}
        )
    if len(text) > MAX_TEXT:
        raise ValidationError({"text": f"At most {MAX_TEXT} characters; this is {len(text)}."})
    if "\x00" in text:  # PostgreSQL cannot store it; no keyboard types it
        raise ValidationError({"text": "Null characters are not allowed."})
    known = _checklist_ids()
    unknown = [item for item in ticked if known and item not in known]
    if unknown:
        raise ValidationError(
            {"symptoms": f"unknown checklist item {unknown[0]!r}; allowed: {', '.join(known)}"}
        )
    with transaction.atomic():
        report = SymptomReport.objects.create(
            patient=patient, course=patient.courses.filter(status=CourseStatus.ACTIVE).first(),
            text=text, checklist=ticked, submitted_by=user, priority=TOP_PRIORITY,
        )  # fmt: skip
        audit_record(actor=user, action="create", obj=report, patient_id=patient.pk,
                     request=request)  # fmt: skip
    return report_triage(report, request=request)


def _checklist_ids() -> tuple[str, ...]:
    try:
        return tuple(item.id for item in load_checklist())
    except Exception:
        logger.exception("the symptom checklist could not be loaded")
        return ()


def report_triage(report: SymptomReport, *, request: HttpRequest | None = None) -> SymptomReport:
    """Triage a stored report and keep the result; on any failure, mark it for review by hand."""
    try:
        result = triage(report.text, report.checklist)
    except Exception as error:
        logger.exception("triage failed on symptom report %s", report.pk)
        report.triage_state = SymptomReport.TriageState.NEEDS_MANUAL_REVIEW
        report.triage_error = f"{type(error).__name__}: {error}"[:1000]
        report.priority = TOP_PRIORITY
        report.save(update_fields=["triage_state", "triage_error", "priority"])
        audit_record(actor=None, action="triage_failed", obj=report,
                     patient_id=report.patient_id, request=request)  # fmt: skip
        return report
    report.triage_state = SymptomReport.TriageState.TRIAGED
    report.triage_level = result.level
    report.priority = load_triage().rank(result.level)
    report.concepts = [
        {"id": c.id, "level": c.level, "evidence": c.evidence} for c in result.concepts
    ]
    if unrecognised(report):
        # Words the triage found no symptom in may still describe one it does not know: a person
        # reads them, today.
        report.priority = max(report.priority, worklist_min_priority())
    report.triaged_at = timezone.now()
    with transaction.atomic():
        report.save(
            update_fields=["triage_state", "triage_level", "priority", "concepts", "triaged_at"]
        )
        audit_record(actor=None, action="triage", obj=report, patient_id=report.patient_id,
                     request=request, detail={"level": result.level})  # fmt: skip
    return report


def unrecognised(report: SymptomReport) -> bool:
    """A report with words in which the triage found nothing (ticks aside): read by hand."""
    from_words = [c for c in report.concepts if not c["evidence"].startswith("ticked:")]
    return (
        report.triage_state == SymptomReport.TriageState.TRIAGED
        and bool(report.text.strip())
        and not from_words
    )


def report_for(
    user: User, report_id: int, *, action: str = "view", request: HttpRequest | None = None
) -> SymptomReport:
    """Return the report if `user` may see its patient (audited); refuse otherwise."""
    report = SymptomReport.objects.select_related("patient__clinic").filter(pk=report_id).first()
    if report is None:
        raise PermissionDenied("No such report.")
    roles = SCREEN_ROLES if report.mood_assessment_id else REPORTER_ROLES
    require_role(user, roles, action=action, obj=report, patient_id=report.patient_id,
                 request=request)  # fmt: skip
    patient_for(user, report.patient_id, action=action, request=request)
    if action == "view":
        audit_record(actor=user, action=action, obj=report, patient_id=report.patient_id,
                     request=request)  # fmt: skip
    return report


def report_acknowledge(
    *, user: User, report_id: int, request: HttpRequest | None = None
) -> SymptomReport:
    """Mark a new report as seen by the clinic; the patient sees who and when."""
    return _review(user, report_id, SymptomReport.ReviewState.ACKNOWLEDGED, "", request)


def report_resolve(
    *, user: User, report_id: int, note: str, request: HttpRequest | None = None
) -> SymptomReport:
    """Close a report with a note saying what was done (the patient sees the note)."""
    return _review(user, report_id, SymptomReport.ReviewState.RESOLVED, note, request)


def _review(
    user: User, report_id: int, state: str, note: str, request: HttpRequest | None
) -> SymptomReport:
    """Move a report on, once: one conditional UPDATE, so two people pressing at once cannot
    both resolve it (row locks would not help on SQLite; this works on both databases)."""
    action = f"report_{state}"
    checked = report_for(user, report_id, action=action, request=request)
    require_role(user, STAFF_ROLES, action=action, obj=checked, patient_id=checked.patient_id,
                 request=request)  # fmt: skip
    note = (note or "").strip()
    if state == SymptomReport.ReviewState.RESOLVED and not note:
        raise ValidationError({"note": "Say what was done before resolving the report."})
    if len(note) > 2000:
        raise ValidationError({"note": f"At most 2000 characters; this is {len(note)}."})
    if "\x00" in note:  # PostgreSQL cannot store it; no keyboard types it
        raise ValidationError({"note": "Null characters are not allowed."})
    now = timezone.now()
    first_seen = {
        "acknowledged_by_id": Coalesce(F("acknowledged_by_id"), Value(user.pk)),
        "acknowledged_at": Coalesce(F("acknowledged_at"), Value(now)),
    }
    open_reports = SymptomReport.objects.filter(pk=report_id)
    with transaction.atomic():
        if state == SymptomReport.ReviewState.RESOLVED:
            changed = open_reports.exclude(review_state=state).update(
                review_state=state, reviewed_by=user, reviewed_at=now, review_note=note,
                **first_seen,
            )  # fmt: skip
        else:
            changed = open_reports.filter(review_state=SymptomReport.ReviewState.NEW).update(
                review_state=state, **first_seen
            )
        if changed:
            audit_record(actor=user, action=action, obj=checked, patient_id=checked.patient_id,
                         request=request)  # fmt: skip
    report = SymptomReport.objects.get(pk=report_id)
    if not changed and report.review_state == SymptomReport.ReviewState.RESOLVED:
        raise ValidationError(
            {"review_state": "This report was already resolved on "
                             f"{timezone.localtime(report.reviewed_at):%Y-%m-%d %H:%M}."}
        )  # fmt: skip
    return report


def worklist(user: User) -> QuerySet[SymptomReport]:
    """The open reports at `call_today` and above for the user's patients, most urgent first.

    Only the clinic (prescribers and staff) has a worklist; anyone else gets an empty one.
    """
    if user.role not in STAFF_ROLES:
        return SymptomReport.objects.none()
    return (
        SymptomReport.objects.filter(
            patient__in=patients_visible_to(user),
            priority__gte=worklist_min_priority(),
        )
        .exclude(review_state=SymptomReport.ReviewState.RESOLVED)
        .select_related("patient__clinic", "acknowledged_by", "mood_assessment", "course")
        .order_by("-priority", "submitted_at", "pk")
    )


def reports_of(patient: Patient, user: User) -> QuerySet[SymptomReport]:
    """The patient's reports that `user` may read, newest first."""
    reports = patient.symptom_reports.select_related(
        "acknowledged_by", "reviewed_by", "mood_assessment"
    ).order_by("-submitted_at", "-pk")
    if user.role not in SCREEN_ROLES:
        reports = reports.filter(mood_assessment__isnull=True)
    return reports


def country_of(patient: Patient) -> Country:
    return helplines_for(patient.country or None, patient.jurisdiction,
                         overrides=settings.ISOGUARD_HELPLINE_OVERRIDES)  # fmt: skip


def stored_result(report: SymptomReport) -> TriageResult:
    """The triage result as stored with the report."""
    concepts = tuple(ConceptFinding(c["id"], c["level"], c["evidence"]) for c in report.concepts)
    level = report.triage_level or "none"
    advice = next(lv.advice for lv in load_triage().levels if lv.id == level)
    return TriageResult(level, concepts, advice)


def report_advice(report: SymptomReport) -> Advice:
    """What the patient is told about this report, most urgent first."""
    patient = report.patient
    clinic = patient.clinic
    country = country_of(patient)
    if report.triage_state != SymptomReport.TriageState.TRIAGED or unrecognised(report):
        # Nobody knows yet how urgent it is: the clinic will read it; until then, the numbers.
        # Words no one has read may be anything, thoughts of suicide too: every number is shown.
        return Advice(
            "unknown",
            (*crisis_calls(country), Call("clinic", clinic.name, clinic.phone)),
            "Your report is saved and your clinic will read it today. If you feel very unwell, "
            "call your clinic now, or your emergency number in an emergency.",
        )
    return advise(stored_result(report), country=country, jurisdiction=patient.jurisdiction,
                  clinic_name=clinic.name, clinic_phone=clinic.phone)  # fmt: skip
