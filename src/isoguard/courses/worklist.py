"""The clinic's worklist: every patient's open report, deadline and due step, most urgent first.

One list for prescribers and staff, built from what the rule engine already says is outstanding
(the obligations timeline of each course), the mood-screen schedule and the open side-effect
reports.

clinic_worklist() reads every course the clinic follows (for the export); worklist_page() gives
one page of the same list, reading only the courses that can reach the page, in their order of
first due item as CourseDue keeps it (courses/due.py). Both read courses a chunk at a time with
convert.course_records(), a fixed number of queries per chunk.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Prefetch, Q, QuerySet
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.core.model import CourseRecord
from isoguard.core.model import MoodAssessment as MoodAssessmentEvent
from isoguard.core.triage import load_triage
from isoguard.core.vocabulary import CourseStatus
from isoguard.courses import due, lab_services, report_services
from isoguard.courses.convert import course_records
from isoguard.courses.models import (
    OPEN_STATUSES,
    Course,
    DosePlan,
    LabResult,
    Prescription,
    ProgrammeDecision,
    SymptomReport,
)
from isoguard.courses.mood_services import mood_due
from isoguard.courses.selectors import course_timeline
from isoguard.patients.access import patients_visible_to
from isoguard.patients.models import Patient

logger = logging.getLogger(__name__)

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
    """Everything the user's clinic must see to, most urgent first; empty for anyone but the
    clinic. Every listed course is read (the export needs them all); a page reads worklist_page.
    """
    if user.role not in report_services.STAFF_ROLES:
        return []
    patients = patients_visible_to(user)
    now = timezone.localtime()
    items = list(_reports(user)) + _lab_findings(patients)
    ids = list(listed_courses(patients, today).values_list("pk", flat=True))
    for chunk in _chunks(ids, ALL_CHUNK):
        for _, found in _course_items(chunk, today, now).values():
            items += found
    return _sorted(_chosen(items, kind, who, urgent_only))


@dataclass(frozen=True)
class WorklistPage:
    items: list[WorkItem]
    number: int
    """1 for the first page"""
    size: int
    more: bool
    """whether a next page has items"""

    @property
    def first(self) -> int:
        """The position of the page's first item in the whole list, from 1."""
        return (self.number - 1) * self.size + 1

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1


PAGE_SIZE = 100
ROW_FIELDS = ("pk", "fresh", "due__emergency", "due__first_due", "due__first_kind",
              "patient__family_name", "patient_id", "due__changes")  # fmt: skip


def worklist_page(
    user: User,
    today: dt.date,
    *,
    kind: str = "",
    who: str = "",
    urgent_only: bool = False,
    number: int = 1,
    size: int = PAGE_SIZE,
) -> WorklistPage:
    """One page of clinic_worklist(), the same items in the same order, reading only the courses
    whose first due item can reach the page.

    Each course's first due day is kept in CourseDue (courses/due.py) and trusted only while it
    is fresh; a course whose row is not is read here and its row stored again. Courses are then
    read in the order of their first due item, a chunk at a time, until the next course's first
    item would sort after the last item the page needs: none of its items could be on the page.
    One query lists the clinic's courses with their rows (no records): that scan is what still
    grows with the clinic (docs/benchmarks.md).
    """
    if user.role not in report_services.STAFF_ROLES:
        return WorklistPage([], number, size, False)
    patients = patients_visible_to(user)
    now = timezone.localtime()
    # Rows hold items as of the clock's day: a page for another day (or read across midnight,
    # after the caller took `today`) trusts none and stores none.
    same_day = today == now.date()
    need = number * size + 1  # one more than the page, to know whether another page follows
    items = _chosen(list(_reports(user)) + _lab_findings(patients), kind, who, urgent_only)
    rows = (
        listed_courses(patients, today)
        .annotate(fresh=ExpressionWrapper(due.fresh(now), output_field=BooleanField()))
        .values_list(*ROW_FIELDS)
        .order_by()  # sorted here, by the bound
    )
    stale: list[int] = []
    seen: dict[int, int | None] = {}
    queue: list[tuple[tuple[int, dt.date, int, str, int], int]] = []
    for pk, is_fresh, emergency, first_due, first_kind, family_name, patient_id, changes in rows:
        if is_fresh and same_day:
            if first_due is not None:  # a fresh row with nothing due: nothing to list
                bound = _bound(emergency, first_due, first_kind, family_name, patient_id, today)
                queue.append((bound, pk))
        else:
            stale.append(pk)
            seen[pk] = changes
    if same_day:
        seen |= due.rows_for(pk for pk, changes in seen.items() if changes is None)
    for chunk in _chunks(stale, ALL_CHUNK):  # after midnight, many: in big chunks
        found = _course_items(chunk, today, now)
        if same_day:
            _stored(found, seen, now)
        for _, course_items in found.values():
            items += _chosen(course_items, kind, who, urgent_only)
    queue.sort()
    position = 0
    while position < len(queue):
        items = _sorted(items)
        limit = _key(items[need - 1])[:5] if len(items) >= need else None
        chunk = []
        while position < len(queue) and len(chunk) < CHUNK:
            bound, pk = queue[position]
            if (limit is not None and bound > limit) or (
                urgent_only and bound[0] > URGENCY["report_call_today"]
            ):
                position = len(queue)  # every course after this one sorts later still
                break
            chunk.append(pk)
            position += 1
        for _, course_items in _course_items(chunk, today, now).values():
            items += _chosen(course_items, kind, who, urgent_only)
    items = _sorted(items)
    start = (number - 1) * size
    return WorklistPage(items[start : start + size], number, size, len(items) > start + size)


def refresh_stale(now: dt.datetime) -> int:
    """Work out again every stale CourseDue row of every clinic (what the first page view of the
    day would do clinic by clinic); `isoguard remind` runs it, so pages stay fast after midnight.
    Return how many courses were read."""
    today = timezone.localdate(now)
    rows = (
        listed_courses(Patient.objects.all(), today)
        .exclude(due.fresh(now))
        .values_list("pk", "due__changes")
    )
    seen: dict[int, int | None] = dict(rows)
    seen |= due.rows_for(pk for pk, changes in seen.items() if changes is None)
    for chunk in _chunks(sorted(seen), ALL_CHUNK):
        _stored(_course_items(chunk, today, now), seen, now)
    return len(seen)


def _stored(
    found: dict[int, tuple[Course, list[WorkItem]]], seen: dict[int, int | None], now: dt.datetime
) -> dict[int, tuple[Course, list[WorkItem]]]:
    summaries = {pk: _summary(course_items) for pk, (_, course_items) in found.items()}
    due.store(summaries, seen, {pk: c.rule_pack for pk, (c, _) in found.items()}, now)
    return found


CHUNK = 50
"""Courses a page reads together (one query per kind of row for the chunk)."""
ALL_CHUNK = 1000
"""Courses the whole list reads together: fewer queries, memory still bounded."""


def _chunks(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _chosen(items: list[WorkItem], kind: str, who: str, urgent_only: bool) -> list[WorkItem]:
    return [
        i for i in items
        if (not kind or i.kind == kind) and (not who or i.who == who)
        and (not urgent_only or URGENCY[i.urgency] <= URGENCY["report_call_today"])
    ]  # fmt: skip


# Within a level and a day, the programme's deadlines first: a window that closes today costs the
# patient a month if it is missed.
KIND_ORDER = {"report": 0, "programme": 1, "lab": 2, "mood": 3}


def _key(item: WorkItem) -> tuple[int, dt.date, int, str, int, str, int, int, int]:
    """The list's order, total: after urgency, day, kind and family name, the patient (their
    items together), what, and the course, report or lab, so that two items never tie and a page
    boundary never falls between items whose order could differ from one reading to the next."""
    return (URGENCY[item.urgency], item.due or dt.date.max, KIND_ORDER[item.kind],
            item.patient.family_name, item.patient.pk, item.what,
            item.course.pk if item.course else 0, item.report.pk if item.report else 0,
            item.lab.pk if item.lab else 0)  # fmt: skip


def _sorted(items: list[WorkItem]) -> list[WorkItem]:
    return sorted(items, key=_key)


def _bound(
    emergency: bool,
    first_due: dt.date,
    first_kind: int,
    family_name: str,
    patient_id: int,
    today: dt.date,
) -> tuple[int, dt.date, int, str, int]:
    """The first five parts of _key() that no item of the course can sort before (all its items
    are of one patient: one family name, one patient id)."""
    urgency = "report_emergency" if emergency else _by_date(first_due, today)
    return URGENCY[urgency], first_due, first_kind, family_name, patient_id


def _summary(items: list[WorkItem]) -> tuple[bool, dt.date | None, int]:
    """What CourseDue keeps of a course's items: whether one is an emergency, and the day and
    kind of the first of those that sort first (the emergencies, if any). A course's items all
    have a date (an undated one would be a report, which is not a course's)."""
    emergencies = [i for i in items if i.urgency == "report_emergency"]
    first = min(emergencies or items, key=lambda i: (i.due, KIND_ORDER[i.kind]), default=None)
    if first is None:
        return False, None, 0
    return bool(emergencies), first.due, KIND_ORDER[first.kind]


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


def _course_items(
    ids: list[int], today: dt.date, now: dt.datetime
) -> dict[int, tuple[Course, list[WorkItem]]]:
    """Each course with every item of it, by course id: the labs due, the programme's timeline
    and the mood questionnaire. A fixed number of queries for the lot."""
    if not ids:
        return {}
    courses = list(Course.objects.filter(pk__in=ids).select_related("patient"))
    try:
        records = course_records(courses)
    except Exception:
        logger.exception("worklist: courses %s could not be read together; one by one", ids[:5])
        records = {}
    plans: dict[int, list[Any]] = {}
    for plan in DosePlan.objects.filter(course_id__in=ids).values_list(
        "course_id", "id", "effective_from", "daily_mg", named=True
    ):
        plans.setdefault(plan.course_id, []).append(plan)
    found: dict[int, tuple[Course, list[WorkItem]]] = {}
    for c in courses:
        try:
            record = records.get(c.pk) or course_records([c])[c.pk]
            found[c.pk] = (c, list(_items_of(c, record, plans.get(c.pk, []), today, now)))
        except Exception:
            # A course that cannot be read is listed, not dropped with everyone else's items.
            logger.exception("worklist: course %s could not be read", c.pk)
            found[c.pk] = (c, [_unreadable(c, today)])
    return found


def _unreadable(course: Course, today: dt.date) -> WorkItem:
    return WorkItem(
        course.patient, "programme", "clinic",
        "This course's record could not be read, so what is due on it is not known: open the "
        "patient's record and check what was recorded (the server log has the error)",
        today, "deadline_today", course=course,
        source="isoguard policy: a record that cannot be read is listed, never hidden",
    )  # fmt: skip


def _items_of(
    course: Course, record: CourseRecord, plans: list[Any], today: dt.date, now: dt.datetime
) -> Iterable[WorkItem]:
    patient = course.patient
    for due_lab in lab_services.course_labs_due(course, today, record=record, plans=plans):
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
        last_on = max((e.date for e in record.events_of(MoodAssessmentEvent)), default=None)
        due_mood = mood_due(True, last_on, today)
        if due_mood.due and due_mood.on is not None:
            yield WorkItem(
                patient, "mood", "patient", f"Mood questionnaire due. {due_mood.reason}",
                due_mood.on, _by_date(due_mood.on, today), course=course,
                source="clinical.md 5.1: assess mood at each visit; ISOGUARD_MOOD_CHECK_DAYS",
            )  # fmt: skip


def _lab_findings(patients: QuerySet[Patient]) -> list[WorkItem]:
    """A result over a threshold is listed whatever the state of the patient's courses."""
    flagged = (
        LabResult.objects.filter(patient__in=patients, reviewed_at__isnull=True)
        .exclude(findings=[])
        .select_related("patient", "course")
    )
    items = []
    for lab in lab_services.open_findings(list(flagged)):
        patient, course = lab.patient, lab.course
        stop = any(f["level"] == "stop" for f in lab.findings)
        actions = "; ".join(f["action"] for f in lab.findings)
        items.append(WorkItem(
            patient, "lab", "prescriber",
            f"{lab.get_test_display()} {lab.value} {lab.unit} on {lab.taken_on:%Y-%m-%d}: "
            f"{actions}",
            lab.taken_on, "report_stop_and_call" if stop else "report_call_today",
            course=course, lab=lab, source=lab.findings[0]["source"],
        ))  # fmt: skip
    return items


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
        .prefetch_related(Prefetch("decisions", queryset=decisions, to_attr="standing"))
    )
    now = timezone.localtime()
    rxs = list(rows)
    records = course_records(list({rx.course_id: rx.course for rx in rxs}.values()))
    items = []
    for rx in rxs:
        timeline = course_timeline(rx.course, record=records[rx.course_id], as_of=now)
        deadline = next((ob.due for ob in timeline if ob.id == "fill_window_closes"), None)
        newest = rx.standing[0] if rx.standing else None
        standing = newest is not None and newest.allowed and newest.reversed_at is None
        authorisation = newest if standing else None
        if authorisation is not None and authorisation.dispense_by is not None:
            deadline = min(filter(None, (deadline, authorisation.dispense_by)))
        if deadline is not None and deadline < today:
            continue  # expired: nothing to pick up any more
        items.append(PharmacyItem(rx, authorisation, deadline))
    return sorted(items, key=lambda i: (i.deadline or dt.date.max, i.prescription.pk))
