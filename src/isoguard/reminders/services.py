"""Reminders: what is due for each patient now, each sent exactly once; the patient's choices.

`run_reminders(now)` is what `isoguard remind` runs (and what a task worker may call): it works
out every reminder whose window contains `now` (doses at the patient's times, the steps of the
programme's timeline on their day, the mood questionnaire), holds back those in the patient's
quiet hours, and sends the rest on each channel the patient chose.

Exactly once (docs/reminders.md): a delivery row, unique per (patient, kind, occurrence key,
channel), is written before anything is sent; one run claims it by setting `attempted_at` in a
conditional update (after `select_for_update(skip_locked=True)` where the database has it), sends,
then marks it sent. A row claimed but never marked (a crash while sending) is not retried: it may
have reached the patient, and a reminder is never sent twice. A row written but never claimed is
retried while its window lasts. An in-app notification is created in the same transaction as its
claim and mark, so it is exactly once outright.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.core.dosing import first_allowed_start
from isoguard.core.model import CourseRecord
from isoguard.core.model import MoodAssessment as MoodAssessmentEvent
from isoguard.core.programs.obligations import Obligation
from isoguard.core.vocabulary import CourseStatus, DoseTime, Role
from isoguard.courses.convert import course_records
from isoguard.courses.models import OPEN_STATUSES, Course
from isoguard.courses.mood_services import mood_due
from isoguard.courses.selectors import course_timeline
from isoguard.courses.worklist import listed_courses
from isoguard.patients.access import patient_for, require_role
from isoguard.patients.models import Patient
from isoguard.reminders.channels import Message, NoAddress, ReminderChannel, channels
from isoguard.reminders.models import (
    ContactPreference,
    Notification,
    ReminderDelivery,
    ReminderKind,
)

logger = logging.getLogger("isoguard.reminders")

DOSE_WINDOW = dt.timedelta(hours=2)
"""A dose reminder is sent from the dose time until two hours after, unless the dose is ticked."""
DAY_START = dt.time(9, 0)
"""A reminder for a day (a test, a visit, a window closing) is sent from 09:00 on that day."""
STALE_AFTER = dt.timedelta(minutes=15)
"""A delivery handed to its channel this long ago and never marked sent is given up as failed."""

# The steps of the programme's timeline (core.programs.obligations) a patient is reminded of: their
# own (tests, the end of contraception), the monthly visit that the end of the supply calls for,
# and the pharmacy's fill window, which the patient closes by collecting in time.
PATIENT_OBLIGATIONS = (
    "next_pregnancy_test",
    "monthly_checklist",
    "next_prescription",
    "fill_window_closes",
    "post_course_test",
    "contraception_continues",
)
DAY_BEFORE = ("fill_window_closes",)
"""Steps reminded of the day before as well as on the day."""

Status = ReminderDelivery.Status
S = Status  # short, for the tables below

# --- What the messages say ----------------------------------------------------------------------
# `text` leaves isoguard by e-mail or SMS, so it names no medicine, test or result; the in-app
# title and body are behind the login and may say what the step is.

TODAY_TEXT = "isoguard: a step of your treatment is due today: please open isoguard."
TOMORROW_TEXT = "isoguard: a step of your treatment is due tomorrow: please open isoguard."
MOOD_TEXT = "isoguard: a short questionnaire is waiting for you: please open isoguard."
MISSED_DOSE = "If you missed a dose, skip it: do not take two doses to make up for it."

IN_APP: dict[str, tuple[str, str]] = {
    "monthly_checklist": (
        "This month's checklist is due",
        "Answer this month's questions in isoguard before your next prescription is filled.",
    ),
    "second_course": (
        "A second course could start from today",
        "It is eight weeks since your last dose, the gap the label asks for before a second "
        "course. If your acne comes back, talk to your prescriber; nothing needs doing otherwise.",
    ),
    "next_pregnancy_test": (
        "Pregnancy test due today",
        "Your monthly pregnancy test is due today, before your next prescription. Your clinic "
        "will tell you where to have it.",
    ),
    "next_prescription": (
        "Your monthly visit is due",
        "Your current supply runs out today: your visit and next month's prescription are due. "
        "Contact your clinic if you have no appointment.",
    ),
    "fill_window_closes": (
        "Collect your prescription by {due}",
        "The pharmacy can fill your prescription until the end of {due}. After that it can no "
        "longer be filled; ask your clinic what to do.",
    ),
    "post_course_test": (
        "Pregnancy test after your course, due today",
        "The pregnancy test after your last dose is due today. Your clinic will tell you where "
        "to have it.",
    ),
    "contraception_continues": (
        "Your contraception period ends today",
        "Today is the last day of the period in which you keep using contraception after your "
        "course. Talk to your clinic before you change anything.",
    ),
}


def dose_message(time: str) -> Message:
    return Message(
        kind=ReminderKind.DOSE,
        text=f"isoguard: time for your {time} dose.",
        title=f"Time for your {time} dose",
        body=f"Take it as your clinic showed you, then tick it in your dose diary. {MISSED_DOSE}",
    )


def obligation_message(ob: Obligation, *, tomorrow: bool) -> Message:
    title, body = IN_APP.get(ob.id, (ob.what, ob.what))
    due = f"{ob.due:%A} {ob.due.day} {ob.due:%B}"
    return Message(
        kind=ReminderKind.OBLIGATION,
        text=TOMORROW_TEXT if tomorrow else TODAY_TEXT,
        title=title.format(due=due),
        body=body.format(due=due),
    )


MOOD_MESSAGE = Message(
    kind=ReminderKind.MOOD,
    text=MOOD_TEXT,
    title="Your mood questionnaire is due",
    body="Isotretinoin can affect mood; your clinic asks a few short questions regularly. "
    "Please answer them in isoguard.",
)


# --- What is due ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    patient: Patient
    kind: str
    key: str
    """the occurrence: dose:2026-11-26:morning, obligation:fill_window_closes:2026-11-26, ..."""
    due_at: dt.datetime
    ends_at: dt.datetime
    """the end of the window in which it may be sent"""
    message: Message


def preference_for(patient: Patient) -> ContactPreference:
    """The patient's saved choices, or the defaults: in-app, and e-mail when there is one."""
    try:
        return patient.contact_preference  # type: ignore[no-any-return]
    except ContactPreference.DoesNotExist:
        return ContactPreference(patient=patient, by_email=bool(patient.email))


def _at(day: dt.date, time: dt.time) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, time))


def _day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return _at(day, DAY_START), _at(day + dt.timedelta(days=1), dt.time(0))


def due_reminders(now: dt.datetime) -> list[Reminder]:
    """Every reminder whose window contains `now`, quiet hours aside; one per occurrence."""
    today = timezone.localdate(now)
    ids = list(
        listed_courses(Patient.objects.all(), today)
        .order_by("patient_id", "-number")
        .values_list("pk", flat=True)
    )
    found: dict[tuple[int, str, str], Reminder] = {}
    mood_checked: set[int] = set()
    # A chunk of courses at a time, not every course in memory at once.
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        by_pk = Course.objects.select_related("patient__contact_preference").in_bulk(chunk)
        courses = [by_pk[pk] for pk in chunk if pk in by_pk]
        # Only yesterday's and today's doses are read (_dose_reminders).
        since = today - dt.timedelta(days=1)
        try:
            records = course_records(courses, diary_since=since)
        except Exception:
            logger.exception("reminders: a chunk could not be read together; one by one")
            records = {}
        for course in courses:
            try:
                record = (
                    records.get(course.pk) or course_records([course], diary_since=since)[course.pk]
                )
                # The course's timeline, read once for its dose and step reminders.
                timeline = course_timeline(course, record=record, as_of=now)
                items = [
                    *_dose_reminders(course, record, now, timeline),
                    *_obligation_reminders(course, now, timeline),
                    *_mood_reminder(course, record, now, mood_checked),
                ]
            except Exception:
                # One course that cannot be read must not hold back everyone else's reminders.
                logger.exception(
                    "reminders: course %s could not be read; skipped this run", course.pk
                )
                continue
            for item in items:
                found.setdefault((item.patient.pk, item.kind, item.key), item)
    return list(found.values())


CHUNK = 500
"""Courses read together (convert.course_records: one query per kind of row for the chunk)."""


def _dose_reminders(
    course: Course, record: CourseRecord, now: dt.datetime, timeline: Iterable[Obligation]
) -> Iterable[Reminder]:
    """Each dose from its time until DOSE_WINDOW after, while it is not ticked in the diary."""
    preference = preference_for(course.patient)
    if not preference.dose_reminders or course.status != CourseStatus.ACTIVE:
        return
    first, last = course.first_dose_on, course.last_dose_on
    if first is None or any(ob.id == "positive_pregnancy_test" for ob in timeline):
        return  # a positive pregnancy test stops every dose (clinical.md 3.1)
    ticked = {(entry.day, entry.time.value) for entry in record.diary}
    today = timezone.localdate(now)
    # Yesterday too: an evening dose at 23:00 is still in its window at 00:30.
    for day in (today - dt.timedelta(days=1), today):
        if day < first or (last is not None and day > last):
            continue
        for time in DoseTime:
            at = _at(day, preference.dose_time(time))
            if at <= now < at + DOSE_WINDOW and (day, time.value) not in ticked:
                yield Reminder(
                    course.patient, ReminderKind.DOSE, f"dose:{day.isoformat()}:{time.value}",
                    at, at + DOSE_WINDOW, dose_message(time.value),
                )  # fmt: skip


def _obligation_reminders(
    course: Course, now: dt.datetime, timeline: Iterable[Obligation]
) -> Iterable[Reminder]:
    """The patient's steps of the programme's timeline, on their day (and the day before)."""
    if course.status == CourseStatus.SCREENING:
        return
    today = timezone.localdate(now)
    start, end = _day_window(today)
    if not start <= now < end:
        return
    last = course.last_dose_on
    ended_well = course.status == CourseStatus.COMPLETED
    if ended_well and last is not None and first_allowed_start(last) == today:
        # Not an obligation: the day a second course becomes possible (clinical.md 2.1).
        title, body = IN_APP["second_course"]
        message = Message(kind=ReminderKind.OBLIGATION, text=TODAY_TEXT, title=title, body=body)
        key = f"second_course:{today.isoformat()}"
        yield Reminder(course.patient, ReminderKind.OBLIGATION, key, start, end, message)
    for ob in timeline:
        if ob.id not in PATIENT_OBLIGATIONS:
            continue
        key = f"obligation:{ob.id}:{ob.due.isoformat()}"
        if ob.due == today:
            message = obligation_message(ob, tomorrow=False)
        elif ob.id in DAY_BEFORE and ob.due == today + dt.timedelta(days=1):
            key, message = f"{key}:day-before", obligation_message(ob, tomorrow=True)
        else:
            continue
        yield Reminder(course.patient, ReminderKind.OBLIGATION, key, start, end, message)


def _mood_reminder(
    course: Course, record: CourseRecord, now: dt.datetime, checked: set[int]
) -> Iterable[Reminder]:
    """The mood questionnaire, once each time it falls due, from 09:00 until it is answered."""
    patient = course.patient
    if patient.pk in checked or course.status not in OPEN_STATUSES:  # as the worklist lists it
        return
    checked.add(patient.pk)
    today = timezone.localdate(now)
    last_on = max((m.date for m in record.events_of(MoodAssessmentEvent)), default=None)
    due = mood_due(True, last_on, today)
    if not due.due or due.on is None:
        return
    # The first questionnaire is due "today" every day until answered: it is one occurrence, from
    # the day the course was opened.
    on = due.on if last_on is not None else min(today, timezone.localdate(course.created_at))
    start = _at(on, DAY_START)
    if start <= now:
        end = _day_window(today)[1]
        yield Reminder(patient, ReminderKind.MOOD, f"mood:{on.isoformat()}", start, end,
                       MOOD_MESSAGE)  # fmt: skip


# --- Sending, exactly once ----------------------------------------------------------------------


@dataclass
class Summary:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    postponed: int = 0
    """reminders held back by quiet hours, to be sent when they end if still in their window"""
    planned: list[str] = field(default_factory=list)
    """in a dry run, what would be sent"""
    dry_run: bool = False

    def count(self, status: str | None) -> None:
        if status == S.SENT:
            self.sent += 1
        elif status == S.SKIPPED:
            self.skipped += 1
        elif status == S.FAILED:
            self.failed += 1

    def line(self) -> str:
        if self.dry_run:
            return (
                f"dry run: would send {len(self.planned)}, postponed {self.postponed} "
                "(quiet hours); nothing sent or recorded"
            )
        return (
            f"sent {self.sent}, skipped {self.skipped}, failed {self.failed}, "
            f"postponed {self.postponed} (quiet hours)"
        )


INTERRUPTED = (
    "interrupted after it was handed to the channel; not retried, as it may have been delivered "
    "and a reminder is never sent twice"
)
EXPIRED = "its window passed before it could be sent"


def run_reminders(now: dt.datetime | None = None, *, dry_run: bool = False) -> Summary:
    """Send every reminder due at `now` (default: now) on every channel chosen, each once."""
    now = now or timezone.now()
    summary = Summary(dry_run=dry_run)
    if not dry_run:
        _sweep(now, summary)
    reminders = due_reminders(now)
    existing = {
        (row.patient_id, row.kind, row.key, row.channel): row
        for row in ReminderDelivery.objects.filter(
            patient_id__in={r.patient.pk for r in reminders},
            key__in={r.key for r in reminders},
        )
    }
    senders = channels()
    local_time = timezone.localtime(now).time()
    for reminder in reminders:
        preference = preference_for(reminder.patient)
        wanted = [
            name
            for name in preference.channels()
            if _still_to_send(
                existing.get((reminder.patient.pk, reminder.kind, reminder.key, name))
            )
        ]
        if not wanted:
            continue
        if preference.is_quiet(local_time):
            summary.postponed += 1
            continue
        for name in wanted:
            if dry_run:
                summary.planned.append(f"patient {reminder.patient.pk}: {reminder.key} by {name}")
                continue
            summary.count(deliver(reminder, senders[name], now))
    return summary


def _still_to_send(row: ReminderDelivery | None) -> bool:
    return row is None or (row.status == S.PENDING and row.attempted_at is None)


def deliver(reminder: Reminder, channel: ReminderChannel, now: dt.datetime) -> str | None:
    """Send one reminder on one channel unless it has been (or is being) sent; return the status
    this call gave it, or None when another run has it."""
    with transaction.atomic():
        # The unique constraint decides which run records the occurrence; get_or_create turns the
        # loser's IntegrityError into reading the winner's row.
        row, _ = ReminderDelivery.objects.get_or_create(
            patient=reminder.patient, kind=reminder.kind, key=reminder.key, channel=channel.name,
            defaults={"due_at": reminder.due_at, "expires_at": reminder.ends_at,
                      "created_at": now},
        )  # fmt: skip
    if not _still_to_send(row):
        return None
    if channel.transactional:
        # In-app: the notification, the claim and the mark commit together, or not at all.
        with transaction.atomic():
            if not _claim(row, now):
                return None
            try:
                with transaction.atomic():
                    channel.send(reminder.patient, reminder.message, delivery=row)
            except Exception as error:
                logger.warning("reminders: %s by %s failed: %s", row.key, channel.name, error)
                return _finish(row, S.FAILED, now, error)
            return _finish(row, S.SENT, now)
    with transaction.atomic():
        if not _claim(row, now):
            return None
    if reminder.kind == ReminderKind.OBLIGATION and _told_today(row, now):
        # Every step says the same outside the app ("a step is due today"): one text a day is
        # enough; the in-app list still has each step.
        with transaction.atomic():
            return _finish(row, S.SKIPPED, now, Exception("already told today on this channel"))
    # Outside any transaction: a slow mail server must not hold the database.
    error: Exception | None = None
    try:
        channel.send(reminder.patient, reminder.message)
        status = S.SENT
    except NoAddress as missing:
        status, error = S.SKIPPED, missing
    except Exception as failure:
        logger.warning("reminders: %s by %s failed: %s", row.key, channel.name, failure)
        status, error = S.FAILED, failure
    with transaction.atomic():
        return _finish(row, status, now, error)


def _told_today(row: ReminderDelivery, now: dt.datetime) -> bool:
    """Whether this patient already had a step reminder on this channel today."""
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        ReminderDelivery.objects.filter(
            patient_id=row.patient_id,
            channel=row.channel,
            kind=ReminderKind.OBLIGATION,
            attempted_at__gte=start,
            status__in=(S.SENT, S.PENDING),
        )
        .exclude(pk=row.pk)
        .exists()
    )


def _claim(row: ReminderDelivery, now: dt.datetime) -> bool:
    """Take the row for this run: True for exactly one run, whatever runs at the same time."""
    unclaimed = ReminderDelivery.objects.filter(pk=row.pk, status=S.PENDING,
                                                attempted_at__isnull=True)  # fmt: skip
    # Where the database can, a run that holds the row makes this one skip it at once instead of
    # waiting for it; the conditional update below decides in every case.
    skip_locked = connection.features.has_select_for_update_skip_locked
    if skip_locked and unclaimed.select_for_update(skip_locked=True).first() is None:
        return False
    if unclaimed.update(attempted_at=now) != 1:
        return False
    row.attempted_at = now
    return True


def _finish(
    row: ReminderDelivery, status: str, now: dt.datetime, error: Exception | None = None
) -> str:
    text = (str(error) or type(error).__name__)[:1000] if error is not None else ""
    row.status, row.error = status, text
    row.sent_at = now if status == S.SENT else None
    ReminderDelivery.objects.filter(pk=row.pk).update(
        status=status, error=text, sent_at=row.sent_at
    )
    _audit(row)
    return status


def _audit(row: ReminderDelivery) -> None:
    audit_record(
        actor=None, action="send_reminder", obj=row, patient_id=row.patient_id,
        detail={"kind": row.kind, "key": row.key, "channel": row.channel, "status": row.status},
    )  # fmt: skip


def _sweep(now: dt.datetime, summary: Summary) -> None:
    """Settle the rows an earlier run left pending: given up if they may have been sent,
    skipped if their window passed before anyone sent them."""
    settle = (
        (Q(attempted_at__lt=now - STALE_AFTER), S.FAILED, INTERRUPTED),
        (Q(attempted_at__isnull=True, expires_at__lte=now), S.SKIPPED, EXPIRED),
    )
    for condition, status, error in settle:
        for row in ReminderDelivery.objects.filter(condition, status=S.PENDING):
            with transaction.atomic():
                still = ReminderDelivery.objects.filter(condition, pk=row.pk, status=S.PENDING)
                if still.update(status=status, error=error) == 1:
                    row.status, row.error = status, error
                    _audit(row)
                    summary.count(status)


# --- The patient's notifications and choices ----------------------------------------------------

PAGE_ROLES = (Role.PATIENT, Role.GUARDIAN)
NOTIFICATION_LIMIT = 50


def _own_patient(user: User, patient_id: int, action: str, request: HttpRequest | None) -> Patient:
    """The patient, for themselves or a guardian who cares for them; anyone else is refused."""
    require_role(user, PAGE_ROLES, action=action, patient_id=patient_id, request=request)
    return patient_for(user, patient_id, action=action, request=request)


@dataclass(frozen=True)
class NotificationList:
    patient: Patient
    notifications: list[Notification]
    unread: int
    preference: ContactPreference


def notifications_of(
    *, user: User, patient_id: int, request: HttpRequest | None = None
) -> NotificationList:
    """The patient's newest notifications and reminder choices (the access is audited)."""
    patient = _own_patient(user, patient_id, "view_notifications", request)
    return NotificationList(
        patient=patient,
        notifications=list(patient.notifications.all()[:NOTIFICATION_LIMIT]),
        unread=patient.notifications.filter(read_at__isnull=True).count(),
        preference=preference_for(patient),
    )


def notifications_mark_read(
    *,
    user: User,
    patient_id: int,
    notification_id: int | None = None,
    request: HttpRequest | None = None,
) -> int:
    """Mark one notification, or all, as read; return how many were unread."""
    patient = _own_patient(user, patient_id, "read_notifications", request)
    unread = Notification.objects.filter(patient=patient, read_at__isnull=True)
    if notification_id is not None:
        if not Notification.objects.filter(pk=notification_id, patient=patient).exists():
            audit_record(
                actor=user, action="read_notifications", object_type="reminders.notification",
                object_id=str(notification_id), patient_id=patient.pk,
                outcome=AuditEvent.Outcome.REFUSED, reason="not this patient's notification",
                request=request,
            )  # fmt: skip
            raise PermissionDenied("No such notification.")
        unread = unread.filter(pk=notification_id)
    with transaction.atomic():
        ids = list(unread.select_for_update().values_list("pk", flat=True))
        count = Notification.objects.filter(pk__in=ids).update(read_at=timezone.now())
        audit_record(
            actor=user, action="update", object_type="reminders.notification",
            object_id=str(notification_id or ""), patient_id=patient.pk, request=request,
            detail={"read": ids},
        )  # fmt: skip
    return count


PREFERENCE_FIELDS = (
    "in_app",
    "by_email",
    "by_sms",
    "quiet_start",
    "quiet_end",
    "dose_reminders",
    "morning_time",
    "evening_time",
)


def check_preference(patient: Patient, preference: ContactPreference) -> None:
    """Refuse choices that could not work, naming the field."""
    errors: dict[str, str] = {}
    if preference.by_email and not patient.email:
        errors["by_email"] = (
            "Your clinic has no e-mail address for you: ask them to add it, or choose another way."
        )
    if preference.by_sms and not patient.phone:
        errors["by_sms"] = (
            "Your clinic has no phone number for you: ask them to add it, or choose another way."
        )
    if (preference.quiet_start is None) != (preference.quiet_end is None):
        field_name = "quiet_end" if preference.quiet_end is None else "quiet_start"
        errors[field_name] = "Give both the start and the end of the quiet hours, or neither."
    if preference.morning_time >= preference.evening_time:
        errors["evening_time"] = "The evening dose comes after the morning dose."
    if preference.dose_reminders:
        for time in ("morning", "evening"):
            if _always_quiet(preference, preference.dose_time(time)):
                errors[f"{time}_time"] = (
                    f"Your {time} dose time is in your quiet hours for the whole of its reminder "
                    "window, so its reminder could never be sent: choose another time or change "
                    "the quiet hours."
                )
    if errors:
        raise ValidationError(errors)


def _always_quiet(preference: ContactPreference, at: dt.time) -> bool:
    """Whether every minute of a dose reminder's window falls in the quiet hours."""
    start = dt.datetime.combine(dt.date(2000, 1, 1), at)
    minutes = int(DOSE_WINDOW.total_seconds() // 60)
    return all(
        preference.is_quiet((start + dt.timedelta(minutes=m)).time()) for m in range(minutes)
    )


def preferences_set(
    *, user: User, patient_id: int, request: HttpRequest | None = None, **choices: object
) -> ContactPreference:
    """Save how and when the patient is reminded; every change is audited with its values."""
    unknown = set(choices) - set(PREFERENCE_FIELDS)
    if unknown:
        raise TypeError(f"unknown preference fields: {', '.join(sorted(unknown))}")
    patient = _own_patient(user, patient_id, "set_reminder_preferences", request)
    with transaction.atomic():
        preference = ContactPreference.objects.select_for_update().filter(
            patient=patient
        ).first() or preference_for(patient)
        created = preference.pk is None
        before = {name: getattr(preference, name) for name in PREFERENCE_FIELDS}
        for name, value in choices.items():
            setattr(preference, name, value)
        check_preference(patient, preference)
        preference.updated_by = user
        preference.save()
        changed = {
            name: [_plain(before[name]), _plain(getattr(preference, name))]
            for name in PREFERENCE_FIELDS
            if created or before[name] != getattr(preference, name)
        }
        audit_record(
            actor=user, action="create" if created else "update", obj=preference,
            patient_id=patient.pk, request=request, detail={"changed": changed},
        )  # fmt: skip
    return preference


def _plain(value: object) -> object:
    return value.isoformat(timespec="minutes") if isinstance(value, dt.time) else value
