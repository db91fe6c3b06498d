"""Mood screening: the PHQ-9 or PHQ-A, scored, kept, and a crisis taken to the clinic at once.

A screen with a positive item 9 (or a PHQ-A "yes" to a suicide question) raises an emergency
report on the clinic's worklist in the same transaction as the answers, and the patient is shown
the emergency and crisis numbers first. A total in a band marked `worklist` (mood.toml) raises a
`call_today` report. Every screen is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.audit.services import audit_record
from isoguard.core.mood import MoodInputError, MoodScore, Tool, load_mood, score, tool_for_age
from isoguard.core.triage import load_triage
from isoguard.core.vocabulary import CourseStatus, MoodTool
from isoguard.courses import report_services
from isoguard.courses.models import OPEN_STATUSES, MoodAssessment, SymptomReport
from isoguard.patients.access import patient_for, require_role
from isoguard.patients.models import Patient

# The questionnaire is answered by the patient, alone or with a clinician at a visit; a parent
# answering for a teenager would not be the PHQ-A, and does not see the answers.
SCREEN_ROLES = report_services.SCREEN_ROLES


def screen_tool(patient: Patient, today: dt.date) -> Tool:
    """The tool for the patient's age today; refuse below the tools' validated ages."""
    try:
        return load_mood().tool(tool_for_age(patient.age_on(today)))
    except ValueError as error:
        raise ValidationError({"tool": str(error)}) from None


@dataclass(frozen=True)
class Due:
    due: bool
    reason: str
    on: dt.date | None = None
    """The day it is (or was) due, when it is."""


def mood_check_due(patient: Patient, today: dt.date) -> Due:
    """Whether a screen is due: before starting, then every ISOGUARD_MOOD_CHECK_DAYS days."""
    in_course = patient.courses.filter(status__in=OPEN_STATUSES).exists()
    latest = patient.mood_assessments.order_by("-assessed_on", "-pk").first()
    return mood_due(in_course, latest.assessed_on if latest else None, today)


def mood_due(in_course: bool, last_on: dt.date | None, today: dt.date) -> Due:
    """The rule itself, on plain values (the worklist calls it on prefetched rows)."""
    if not in_course:
        return Due(False, "No course in screening or under way.")
    if last_on is None:
        return Due(True, "No mood questionnaire yet: one is asked before starting.", today)
    next_on = last_on + dt.timedelta(days=settings.ISOGUARD_MOOD_CHECK_DAYS)
    if next_on <= today:
        return Due(True, f"The last questionnaire was on {last_on:%Y-%m-%d}.", next_on)
    return Due(False, f"Next questionnaire from {next_on:%Y-%m-%d}.", next_on)


def mood_record(
    *,
    user: User,
    patient_id: int,
    answers: dict[int, int],
    extras: dict[str, bool] | None = None,
    request: HttpRequest | None = None,
) -> tuple[MoodAssessment, MoodScore]:
    """Score and keep a screen; a crisis or a high score goes to the clinic's worklist at once.

    Raises ValidationError naming the item for a missing or out-of-range answer; nothing is kept.
    """
    require_role(user, SCREEN_ROLES, action="mood_screen", patient_id=patient_id, request=request)
    patient = patient_for(user, patient_id, action="mood_screen", request=request)
    today = timezone.localdate()
    tool = screen_tool(patient, today)
    for extra in tool.extra:  # every question of the form needs an answer: a safety screen
        if extra.id not in (extras or {}):
            raise ValidationError({extra.id: "answer yes or no"})
    try:
        result = score(MoodTool(tool.id), answers, extras=extras or {})
    except MoodInputError as error:
        raise ValidationError({error.field: error.message}) from None
    with transaction.atomic():
        assessment = MoodAssessment.objects.create(
            patient=patient,
            course=patient.courses.filter(status=CourseStatus.ACTIVE).first(),
            tool=tool.id, score=result.total, item9=result.item9,
            answers={"items": list(result.answers), "extras": dict(extras or {})},
            assessed_on=today, recorded_by=user,
        )  # fmt: skip
        audit_record(actor=user, action="create", obj=assessment, patient_id=patient.pk,
                     request=request, detail={"crisis": result.crisis})  # fmt: skip
        report = worklist_report(assessment, tool, result, user)
        if report is not None:
            audit_record(actor=user, action="create", obj=report, patient_id=patient.pk,
                         request=request, detail={"level": report.triage_level})  # fmt: skip
    return assessment, result


def worklist_report(
    assessment: MoodAssessment, tool: Tool, result: MoodScore, user: User
) -> SymptomReport | None:
    """The report that puts this screen on the clinic's worklist, if it needs to be there."""
    if result.crisis:
        option = {o.value: o.label for o in tool.option}
        evidence = [
            f"{tool.name} item 9: {option.get(result.item9, result.item9)}"
            if reason == "item 9"
            else f"{tool.name}: yes to {reason}"
            for reason in result.crisis_reasons
        ]
        level, concept = "emergency", "suicidal_thoughts"
    elif result.band.worklist:
        evidence = [f"{tool.name} score {result.total} ({result.band.label})"]
        level, concept = result.band.worklist, "mood_change"
    else:
        return None
    return SymptomReport.objects.create(
        patient=assessment.patient, course=assessment.course, mood_assessment=assessment,
        submitted_by=user, triage_state=SymptomReport.TriageState.TRIAGED, triage_level=level,
        priority=load_triage().rank(level), triaged_at=timezone.now(),
        concepts=[{"id": concept, "level": level, "evidence": "; ".join(evidence)}],
    )  # fmt: skip


def assessment_for(
    user: User, assessment_id: int, *, request: HttpRequest | None = None
) -> MoodAssessment:
    """Return a screen to the patient who answered it or to their clinic (audited)."""
    assessment = (
        MoodAssessment.objects.select_related("patient__clinic").filter(pk=assessment_id).first()
    )
    if assessment is None:
        raise PermissionDenied("No such questionnaire.")
    require_role(user, SCREEN_ROLES, action="view", obj=assessment,
                 patient_id=assessment.patient_id, request=request)  # fmt: skip
    patient_for(user, assessment.patient_id, request=request)
    audit_record(actor=user, action="view", obj=assessment, patient_id=assessment.patient_id,
                 request=request)  # fmt: skip
    return assessment


def stored_score(assessment: MoodAssessment) -> MoodScore:
    """The score of a kept screen, recomputed from its answers."""
    stored = assessment.answers if isinstance(assessment.answers, dict) else {}
    return score(assessment.tool, stored.get("items", []), extras=stored.get("extras") or {})
