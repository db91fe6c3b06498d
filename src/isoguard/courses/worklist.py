"""The clinic's worklist: every patient's open report, deadline and due step, most urgent first.

One list for prescribers and staff, built from what the rule engine already says is outstanding
(the obligations timeline of each course), the mood-screen schedule and the open side-effect
reports. It costs a fixed number of queries however many patients the clinic has: the courses
come with everything the engine reads prefetched (convert.RECORD_PREFETCH).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.core.triage import load_triage
from isoguard.core.vocabulary import CourseStatus
from isoguard.courses import lab_services, report_services
from isoguard.courses.convert import course_record, timeline_prefetch
from isoguard.courses.models import (
    OPEN_STATUSES,
    Course,
    LabResult,
    Prescription,
    ProgrammeDecision,
    SymptomReport,
)
from isoguard.courses.mood_services import mood_due
from isoguard.courses.selectors import course_timeline
from isoguard.patients.access import patients_visible_to
from isoguard.patients.models import Patient

# Urgency, most urgent first. A report the clinic must answer at once outranks a deadline; a
# deadline that is today or past outranks a report to answer today; then what comes this week.
URGENCY = {
    "report_emergency": 0,
    "report_stop_and_call": 1,
    "deadline_today": 2,
    "report_call_today": 3,
    "due_this_week": 4,
    "later": 5,
}
SOON_DAYS = 7
"""How far ahead "this week" looks."""
AFTER_COURSE_DAYS = 62
"""A completed course stays on the list while the post-course test and contraception are due."""
KINDS = ("report", "programme", "mood", "lab")
WHO = ("clinic", "prescriber", "patient", "pharmacist")


@dataclass(frozen=True)
class WorkItem:
    patient: Patient
    kind: str
    """report, programme or mood"""
    who: str
    """who must act: clinic, prescriber, patient or pharmacist"""
    what: str
    due: dt.date | None
    urgency: str
    course: Course | None = None
    report: SymptomReport | None = None
    lab: LabResult | None = None
    source: str = ""


def clinic_worklist(
    user: User,
    today: dt.date,
    *,
    kind: str = "",
    who: str = "",
    urgent_only: bool = False,
) -> list[WorkItem]:
    """What the user's clinic must see to, most urgent first; empty for anyone but the clinic."""
    if user.role not in report_services.STAFF_ROLES:
        return []
    patients = patients_visible_to(user)
    items = list(_reports(user)) + list(_courses(patients, today))
    if kind:
        items = [i for i in items if i.kind == kind]
    if who:
        items = [i for i in items if i.who == who]
    if urgent_only:
        items = [i for i in items if URGENCY[i.urgency] <= URGENCY["report_call_today"]]
    far = dt.date.max
    # Within a level and a day, the programme's deadlines first: a window that closes today
    # costs the patient a month if it is missed.
    order = {"report": 0, "programme": 1, "lab": 2, "mood": 3}
    return sorted(
        items,
        key=lambda i: (
            URGENCY[i.urgency],
            i.due or far,
            order[i.kind],
            i.patient.family_name,
            i.what,
        ),
    )


def _reports(user: User) -> Iterable[WorkItem]:
    ranks = {lv.rank: lv.id for lv in load_triage().levels}
    for report in report_services.worklist(user):
        level = ranks.get(report.priority, "emergency")
        urgency = {"emergency": "report_emergency", "stop_and_call": "report_stop_and_call"}.get(
            level, "report_call_today"
        )
        if report_services.unrecognised(report) or report.triage_state != "triaged":
            what = "Read the report by hand: the triage could not place it"
        elif report.mood_assessment_id:
            what = f"Mood screen needs attention ({level.replace('_', ' ')})"
        else:
            what = f"Side-effect report: {level.replace('_', ' ')}"
        if report.review_state == SymptomReport.ReviewState.ACKNOWLEDGED:
            what += " (acknowledged)"
        yield WorkItem(
            report.patient, "report", "clinic", what, timezone.localdate(report.submitted_at),
            urgency, course=report.course, report=report, source="docs/triage/RUBRIC.md",
        )  # fmt: skip


RUNNING = tuple(OPEN_STATUSES)
ENDED = (CourseStatus.COMPLETED, CourseStatus.STOPPED)


def listed_courses(patients: Iterable[Patient], today: dt.date) -> QuerySet[Course]:
    """The courses a clinic follows: running, or ended less than AFTER_COURSE_DAYS ago."""
    since = today - dt.timedelta(days=AFTER_COURSE_DAYS)
    running = Q(status__in=RUNNING)
    just_ended = Q(status__in=ENDED, last_dose_on__gte=since)
    return Course.objects.filter(running | just_ended, patient__in=patients)


def _courses(patients: QuerySet[Patient], today: dt.date) -> Iterable[WorkItem]:
    now = timezone.localtime()
    rows = (
        listed_courses(patients, today)
        .select_related("patient")
        .prefetch_related(*timeline_prefetch(), "dose_plans")
    )
    # A result over a threshold is listed whatever the state of the patient's courses.
    flagged = (
        LabResult.objects.filter(patient__in=patients, reviewed_at__isnull=True)
        .exclude(findings=[])
        .select_related("patient", "course")
    )
    yield from _lab_findings(list(flagged))
    for course in rows:
        patient = course.patient
        record = course_record(course)  # built once, read by the labs and the timeline
        for due_lab in lab_services.course_labs_due(course, today, record=record):
            name = due_lab.test.value.replace("_", " ")
            yield WorkItem(
                patient, "lab", "clinic", f"Lab test due: {name} ({due_lab.check.value}). "
                f"{due_lab.reason}", due_lab.due, _by_date(due_lab.due, today), course=course,
                source=due_lab.source,
            )  # fmt: skip
        for ob in course_timeline(course, record=record, as_of=now):
            urgency = (
                "report_emergency" if ob.id == "positive_pregnancy_test"
                else _by_date(ob.due, today)
            )  # fmt: skip
            yield WorkItem(
                patient, "programme", ob.who, ob.what, ob.due, urgency,
                course=course, source=ob.source,
            )  # fmt: skip
        if course.status in RUNNING:
            last_on = max((m.assessed_on for m in patient.mood_assessments.all()), default=None)
            due = mood_due(True, last_on, today)
            if due.due and due.on is not None:
                yield WorkItem(
                    patient, "mood", "patient", f"Mood questionnaire due. {due.reason}", due.on,
                    _by_date(due.on, today), course=course,
                    source="clinical.md 5.1: assess mood at each visit; ISOGUARD_MOOD_CHECK_DAYS",
                )  # fmt: skip


def _lab_findings(labs: list[LabResult]) -> Iterable[WorkItem]:
    for lab in lab_services.open_findings(labs):
        patient, course = lab.patient, lab.course
        stop = any(f["level"] == "stop" for f in lab.findings)
        actions = "; ".join(f["action"] for f in lab.findings)
        yield WorkItem(
            patient, "lab", "prescriber",
            f"{lab.get_test_display()} {lab.value} {lab.unit} on {lab.taken_on:%Y-%m-%d}: "
            f"{actions}",
            lab.taken_on, "report_stop_and_call" if stop else "report_call_today",
            course=course, lab=lab, source=lab.findings[0]["source"],
        )  # fmt: skip


def _by_date(due: dt.date, today: dt.date) -> str:
    if due <= today:
        return "deadline_today"
    if due <= today + dt.timedelta(days=SOON_DAYS):
        return "due_this_week"
    return "later"


@dataclass(frozen=True)
class PharmacyItem:
    prescription: Prescription
    authorisation: ProgrammeDecision | None
    """The standing authorisation to dispense, if one was given and not reversed."""
    deadline: dt.date | None
    """The last day it may be filled, as the programme counts it."""

    @property
    def closes_soon(self) -> bool:
        return self.deadline is not None and self.deadline <= timezone.localdate() + dt.timedelta(
            days=1
        )


def pharmacy_worklist(pharmacy_id: int, today: dt.date) -> list[PharmacyItem]:
    """Prescriptions presented at the pharmacy and not yet filled: authorised ones waiting to be
    picked up, and the window each must be filled in, the soonest to close first."""
    # The newest decision on the fill, whatever it said: a later refusal withdraws the earlier
    # authorisation.
    decisions = ProgrammeDecision.objects.filter(action="dispense").order_by("-created_at", "-id")
    rows = (
        Prescription.objects.filter(
            pharmacy_id=pharmacy_id, dispense__isnull=True, cancelled_at__isnull=True
        )
        .select_related("course__patient")
        .prefetch_related(
            *timeline_prefetch("course__"),
            Prefetch("decisions", queryset=decisions, to_attr="standing"),
        )
    )
    now = timezone.localtime()
    items = []
    for rx in rows:
        course = rx.course
        deadline = next(
            (ob.due for ob in course_timeline(course, as_of=now) if ob.id == "fill_window_closes"),
            None,
        )
        newest = rx.standing[0] if rx.standing else None
        standing = newest is not None and newest.allowed and newest.reversed_at is None
        authorisation = newest if standing else None
        if authorisation is not None and authorisation.dispense_by is not None:
            deadline = min(filter(None, (deadline, authorisation.dispense_by)))
        if deadline is not None and deadline < today:
            continue  # expired: nothing to pick up any more
        items.append(PharmacyItem(rx, authorisation, deadline))
    return sorted(items, key=lambda i: (i.deadline or dt.date.max, i.prescription.pk))
