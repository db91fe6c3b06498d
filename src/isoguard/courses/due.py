"""Keeping each course's CourseDue row honest: a write marks it changed, a reading stores it anew.

The clinic's worklist orders its courses by the first thing due on each (courses/worklist.py)
without reading every course, which is what lets a page of a clinic of tens of thousands of
patients cost a fixed number of queries. That is only safe if a row is never trusted when it
could be wrong, so a row is fresh only while all three hold:

- no write since it was computed: every save or delete of a row the worklist reads (the course,
  its patient, and every event of either) adds one to `changes` in the same transaction, through
  the signals below; the few writes that bypass signals (`QuerySet.update`) call `changed()`;
- the day has not moved: `valid_until` is the next midnight of the clinic's time zone, or of the
  programme's time zone if that comes first (the rules count days there);
- the settings and the code it was computed under are those now (`computed_with`: the settings
  the items depend on and a hash of the app's source and knowledge files, so a release that
  changes a rule makes every row stale).

A row that is not fresh is worked out again by whoever reads it. Writes made outside the app (SQL
by hand) are not seen until midnight; `isoguard remind` refreshes every stale row at each run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models import F, Model, Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

import isoguard
from isoguard.core.programs.packs import load_pack
from isoguard.courses.models import (
    Consent,
    ContraceptionPlan,
    Course,
    CourseDue,
    Dispense,
    DosePlan,
    LabResult,
    MedicationGuideAck,
    MonthlyCheck,
    MoodAssessment,
    PregnancyTest,
    Prescription,
)
from isoguard.patients.models import Patient, PregnancyPotential, WeightMeasurement

COURSE_ROWS: tuple[type[Model], ...] = (Consent, ContraceptionPlan, MonthlyCheck, Prescription,
                                         DosePlan)  # fmt: skip
"""Rows of one course that the worklist reads (by their course_id)."""
PRESCRIPTION_ROWS: tuple[type[Model], ...] = (Dispense, MedicationGuideAck)
"""Rows of one prescription (by its prescription_id)."""
PATIENT_ROWS: tuple[type[Model], ...] = (PregnancyTest, MoodAssessment, LabResult,
                                          WeightMeasurement, PregnancyPotential)  # fmt: skip
"""Rows of the patient that every course of theirs reads (by their patient_id)."""
SETTINGS = ("ISOGUARD_PACK_SETTINGS", "ISOGUARD_LAB_SCHEDULE", "ISOGUARD_LAB_THRESHOLDS",
            "ISOGUARD_MOOD_CHECK_DAYS", "TIME_ZONE")  # fmt: skip
"""What the worklist's items depend on besides the records and the code (code_digest)."""


def changed(
    *,
    course_ids: Iterable[int] = (),
    patient_ids: Iterable[int] = (),
    prescription_ids: Iterable[int] = (),
) -> None:
    """Mark these courses (or every course of these patients, or of these prescriptions) as
    changed; call it in the transaction of the write."""
    courses, patients, prescriptions = list(course_ids), list(patient_ids), list(prescription_ids)
    which = Q()
    if courses:
        which |= Q(pk__in=courses)
    if patients:
        which |= Q(patient_id__in=patients)
    if prescriptions:
        which |= Q(prescriptions__in=prescriptions)
    if not which:
        return
    ids = list(Course.objects.filter(which).values_list("pk", flat=True).distinct())
    if not ids:
        return
    # A course may have no row yet (loaded around the signals): make it before counting this
    # write in it, so that a reader who makes it and reads its count meanwhile finds the count
    # moved on once this write commits, and trusts nothing it computed without it.
    CourseDue.objects.bulk_create([CourseDue(course_id=pk) for pk in ids], ignore_conflicts=True)
    CourseDue.objects.filter(course_id__in=ids).update(changes=F("changes") + 1)


def _on_write(sender: type[Model], instance: Any, **kwargs: Any) -> None:
    if sender is Course:
        if kwargs.get("created"):
            # Stale from birth (changes 1, computed 0): read and stored on the first reading.
            CourseDue.objects.get_or_create(course_id=instance.pk)
        else:
            changed(course_ids=[instance.pk])
    elif sender is Patient:
        changed(patient_ids=[instance.pk])
    elif sender in COURSE_ROWS:
        changed(course_ids=[instance.course_id])
    elif sender in PRESCRIPTION_ROWS:
        changed(prescription_ids=[instance.prescription_id])
    elif sender in PATIENT_ROWS:
        changed(patient_ids=[instance.patient_id])


def connect() -> None:
    """Listen to every write of a row the worklist reads (CoursesConfig.ready)."""
    for model in (Course, Patient, *COURSE_ROWS, *PRESCRIPTION_ROWS, *PATIENT_ROWS):
        uid = f"isoguard.courses.due.{model._meta.label}"
        post_save.connect(_on_write, sender=model, dispatch_uid=uid + ".save")
        post_delete.connect(_on_write, sender=model, dispatch_uid=uid + ".delete")


@cache
def fingerprint() -> str:
    """The settings and the code the rows are computed under: a release that changes a rule
    pack, a knowledge file or the code that works out what is due makes every row stale."""
    values = {name: getattr(settings, name, None) for name in SETTINGS}
    text = json.dumps([code_digest(), values], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@cache
def code_digest() -> str:
    """A hash of the app's own source and knowledge files (read once per process): the version
    number does not move with every release, the files do."""
    root = Path(isoguard.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".toml")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in SETTINGS:
        fingerprint.cache_clear()


setting_changed.connect(_settings_changed, dispatch_uid="isoguard.courses.due.settings")


def fresh(now: dt.datetime) -> Q:
    """The condition for a course's row to be trusted at `now` (on Course, through `due`)."""
    return Q(
        due__computed_changes=F("due__changes"),
        due__valid_until__gt=now,
        due__computed_with=fingerprint(),
    )


def valid_until(now: dt.datetime, pack: str) -> dt.datetime:
    """The next midnight in the clinic's time zone, or in the programme's if that comes first."""
    zones = [timezone.get_current_timezone()]
    pack_zone = load_pack(pack).header.time_zone
    if pack_zone != "local":
        zones.append(ZoneInfo(pack_zone))
    ends = []
    for zone in zones:
        local = now.astimezone(zone)
        tomorrow = local.date() + dt.timedelta(days=1)
        ends.append(dt.datetime.combine(tomorrow, dt.time(0), tzinfo=zone))
    return min(ends)


def rows_for(missing: Iterable[int]) -> dict[int, int]:
    """Create the rows of courses that have none (written around the signals, as a bulk load
    does), before their records are read; return each one's `changes` as read after, so that a
    write from then on leaves what is computed now stale."""
    ids = list(missing)
    if not ids:
        return {}
    CourseDue.objects.bulk_create([CourseDue(course_id=pk) for pk in ids], ignore_conflicts=True)
    return dict(CourseDue.objects.filter(pk__in=ids).values_list("pk", "changes"))


def store(
    computed: Mapping[int, tuple[bool, dt.date | None, int]],
    seen: Mapping[int, int | None],
    packs: Mapping[int, str],
    now: dt.datetime,
) -> None:
    """Keep what was worked out for each course, by course id: (emergency, first due, first
    kind), computed under its rule pack (`packs`) from the records as they stood when its row's
    `changes` was read (`seen`, read before the records; rows_for() makes the missing rows). A
    row another request holds is left stale for the next reading, never waited on."""
    settings_now = fingerprint()
    known = sorted(pk for pk in computed if seen.get(pk) is not None)
    if not known:
        return
    with transaction.atomic():
        free = CourseDue.objects.select_for_update(skip_locked=True).filter(pk__in=known)
        held = list(free.order_by("pk").values_list("pk", flat=True))
        # One UPDATE per distinct set of values (courses share their first due days), not
        # bulk_update's CASE per row, which costs Django seconds per thousand rows.
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for pk in held:
            emergency, first_due, first_kind = computed[pk]
            values = (emergency, first_due, first_kind, seen[pk], valid_until(now, packs[pk]))
            groups[values].append(pk)
        for (emergency, first_due, first_kind, count, until), pks in groups.items():
            CourseDue.objects.filter(pk__in=pks).update(
                emergency=emergency, first_due=first_due, first_kind=first_kind,
                # The count read before the records were: a write since then leaves it stale.
                computed_changes=count, valid_until=until, computed_with=settings_now,
            )  # fmt: skip
