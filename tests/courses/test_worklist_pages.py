"""A page of the clinic's worklist is exactly the start of the whole list, however the rows that
order it (CourseDue) came to be: fresh, stale after a write, a day old, or never made."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.core.vocabulary import CourseStatus
from isoguard.courses import due, record_services
from isoguard.courses.convert import RECORD_PREFETCH
from isoguard.courses.models import (
    Course,
    CourseDue,
    DosePlan,
    MoodAssessment,
    PregnancyTest,
)
from isoguard.courses.worklist import (
    KINDS,
    WHO,
    clinic_worklist,
    worklist_page,
)
from isoguard.demo import create_demo
from isoguard.patients.models import Patient


@pytest.fixture
def demo(db):
    create_demo(timezone.localdate())
    return User.objects.get(username="dr.rivera")


def all_pages(user, size: int, **filters) -> list:
    items, number = [], 1
    while True:
        page = worklist_page(user, timezone.localdate(), number=number, size=size, **filters)
        assert len(page.items) <= size
        items += page.items
        if not page.more:
            return items
        assert len(page.items) == size
        number += 1


def assert_pages_are_the_list(user, sizes=(1, 2, 5, 100)) -> None:
    today = timezone.localdate()
    whole = clinic_worklist(user, today)
    assert whole, "the demo clinic has work"
    for size in sizes:
        assert all_pages(user, size) == whole, size
    for kind, who, urgent in itertools.product(("", *KINDS), ("", *WHO), (False, True)):
        filters = {"kind": kind, "who": who, "urgent_only": urgent}
        assert all_pages(user, 3, **filters) == clinic_worklist(user, today, **filters), filters


def test_every_page_size_and_filter_gives_the_whole_list_in_order(demo):
    assert_pages_are_the_list(demo)  # rows made on the first reading
    assert not CourseDue.objects.filter(valid_until__isnull=True, course__status="active").exists()
    assert_pages_are_the_list(demo)  # rows trusted


def test_rows_never_made_are_made_and_the_page_is_still_right(demo):
    CourseDue.objects.all().delete()  # as after a bulk load that bypassed the signals
    assert_pages_are_the_list(demo, sizes=(2,))
    assert CourseDue.objects.exists()


def test_a_write_leaves_the_course_stale_and_the_page_follows_it(demo):
    today = timezone.localdate()
    assert_pages_are_the_list(demo, sizes=(3,))
    course = Course.objects.filter(status=CourseStatus.ACTIVE, patient__clinic=demo.organisation
                                   ).select_related("patient").first()  # fmt: skip
    row = CourseDue.objects.get(course=course)
    assert row.computed_changes == row.changes  # fresh
    # A positive test puts the course at the top, through a service...
    record_services.pregnancy_test_record(
        user=demo, course_id=course.pk, specimen_date=today, result="positive", setting="lab"
    )
    row.refresh_from_db()
    assert row.computed_changes < row.changes  # stale in the write's own transaction
    page = worklist_page(demo, today, size=1)
    assert page.items[0].patient == course.patient
    assert page.items[0].urgency == "report_emergency"
    assert_pages_are_the_list(demo, sizes=(3,))
    # ...and deleting it behind the services (a save or delete signal still fires) takes it off.
    PregnancyTest.objects.filter(patient=course.patient, result="positive").delete()
    assert_pages_are_the_list(demo, sizes=(3,))


def test_writes_that_bypass_the_signals_mark_the_course_through_changed(demo):
    today = timezone.localdate()
    screening = Course.objects.filter(status=CourseStatus.SCREENING,
                                      patient__clinic=demo.organisation).first()  # fmt: skip
    assert screening is not None  # the demo has Dev's course in screening
    assert_pages_are_the_list(demo, sizes=(3,))
    before = CourseDue.objects.get(course=screening).changes
    record_services.enrolment_record(user=demo, course_id=screening.pk, enrolled_on=today)
    assert CourseDue.objects.get(course=screening).changes > before
    assert_pages_are_the_list(demo, sizes=(3,))


def test_a_row_of_yesterday_is_not_trusted_today(demo):
    today = timezone.localdate()
    assert_pages_are_the_list(demo, sizes=(4,))
    # Yesterday's rows, with their first due day pushed far away: if they were trusted the courses
    # would sort last (or drop off the page).
    CourseDue.objects.update(valid_until=timezone.now() - dt.timedelta(minutes=1),
                             first_due=today + dt.timedelta(days=900))  # fmt: skip
    assert_pages_are_the_list(demo, sizes=(4,))


def test_rows_computed_under_other_settings_are_not_trusted(demo, settings):
    assert_pages_are_the_list(demo, sizes=(4,))
    CourseDue.objects.update(first_due=timezone.localdate() + dt.timedelta(days=900))
    settings.ISOGUARD_MOOD_CHECK_DAYS = 7  # clears the fingerprint (setting_changed)
    assert_pages_are_the_list(demo, sizes=(4,))


def test_every_row_the_worklist_reads_is_watched():
    """A kind of row the record or the worklist reads, added without a signal, would leave pages
    stale: every relation of RECORD_PREFETCH, and the dose plans, must be watched."""
    watched = {Course, Patient, *due.COURSE_ROWS, *due.PRESCRIPTION_ROWS, *due.PATIENT_ROWS}
    for lookup in RECORD_PREFETCH:
        if lookup == "diary":
            continue  # the worklist reads records without the dose diary (course_records)
        model = Course
        for part in lookup.split("__"):
            model = model._meta.get_field(part).related_model
        assert model in watched, lookup
    assert DosePlan in watched and MoodAssessment in watched


def test_store_keeps_what_was_computed_with_the_count_read_before(demo):
    today = timezone.localdate()
    course = Course.objects.filter(patient__clinic=demo.organisation).first()
    row = CourseDue.objects.get(course=course)
    pk, seen = course.pk, row.changes
    due.changed(course_ids=[pk])  # a write after the count was read
    due.store({pk: (False, today, 1)}, {pk: seen}, {pk: course.rule_pack}, timezone.now())
    row.refresh_from_db()
    assert (row.first_due, row.first_kind, row.computed_changes) == (today, 1, seen)
    assert row.changes == seen + 1  # still stale: the write is not in what was stored
    assert not Course.objects.filter(due.fresh(timezone.now()), pk=pk).exists()


def test_store_skips_a_row_another_transaction_holds(transactional_db):
    """On PostgreSQL a row locked by a writer is left stale, not waited for (SKIP LOCKED). SQLite
    has no row locks: a writer holds the whole database and store() waits its turn, so there is
    nothing to check there."""
    if connection.vendor != "postgresql":
        return
    create_demo(timezone.localdate())
    course = Course.objects.first()
    pk = course.pk
    CourseDue.objects.filter(pk=pk).update(first_due=None, computed_changes=0)
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        with transaction.atomic():
            list(CourseDue.objects.select_for_update().filter(pk=pk))
            held.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert held.wait(10)
        today = timezone.localdate()
        due.store({pk: (False, today, 1)}, {pk: 5}, {pk: course.rule_pack}, timezone.now())
        # Had it waited for the lock, the writer would have given up waiting (10 s) and ended.
        assert thread.is_alive()
    finally:
        release.set()
        thread.join()
    row = CourseDue.objects.get(pk=pk)
    assert (row.first_due, row.computed_changes) == (None, 0)


def test_the_reminder_worker_works_out_every_stale_row_so_pages_read_none(demo):
    from isoguard.courses.worklist import listed_courses, refresh_stale

    now = timezone.now()
    listed = listed_courses(Patient.objects.all(), timezone.localdate())
    assert refresh_stale(now) == listed.count() > 0  # every row is new: all stale
    assert refresh_stale(now) == 0
    assert listed.filter(due.fresh(now)).count() == listed.count()
    assert_pages_are_the_list(demo, sizes=(5,))
    # A day later every row is stale again.
    assert refresh_stale(now + dt.timedelta(days=1)) == listed.count()


def test_items_never_tie_so_pages_cannot_overlap_at_a_boundary(world):
    """Many patients of one family name with the same steps on the same days: the order is still
    total (the patient, then the course, break ties), so the pages are the list exactly."""
    from isoguard.courses.worklist import _key
    from tests.courses.test_worklist import many_patients

    many_patients(world.clinic, world.prescriber, world.pharmacy, 60)
    Patient.objects.filter(family_name__startswith="Load").update(family_name="Same")
    whole = clinic_worklist(world.prescriber, timezone.localdate())
    keys = [_key(i) for i in whole]
    assert len(set(keys)) == len(keys) > 60
    for size in (7, 10):
        pages = all_pages(world.prescriber, size)
        assert pages == whole


def test_a_page_for_another_day_than_the_clocks_trusts_and_stores_no_row(demo):
    """As when midnight falls between the view taking `today` and the page reading the clock:
    rows worked out with yesterday's date must not be stored as fresh for the new day."""
    today = timezone.localdate()
    assert_pages_are_the_list(demo, sizes=(4,))
    CourseDue.objects.update(valid_until=None)  # every row stale, as after midnight
    before = list(CourseDue.objects.order_by("pk").values())
    yesterday = today - dt.timedelta(days=1)
    page = worklist_page(demo, yesterday, size=500)
    assert page.items == clinic_worklist(demo, yesterday)[:500]
    assert list(CourseDue.objects.order_by("pk").values()) == before


def test_a_release_that_changes_the_code_makes_every_row_stale(demo, monkeypatch):
    assert_pages_are_the_list(demo, sizes=(4,))
    now = timezone.now()
    assert Course.objects.filter(due.fresh(now)).exists()
    monkeypatch.setattr(due, "code_digest", lambda: "another release")
    due.fingerprint.cache_clear()
    try:
        assert not Course.objects.filter(due.fresh(now)).exists()
    finally:
        due.fingerprint.cache_clear()


def test_a_write_to_a_course_without_a_row_leaves_a_stale_row(demo):
    """A course loaded around the signals has no row: a write must still leave a mark that no
    reading made before it commits can pass for fresh."""
    course = Course.objects.filter(patient__clinic=demo.organisation).first()
    CourseDue.objects.filter(course=course).delete()
    due.changed(patient_ids=[course.patient_id])
    row = CourseDue.objects.get(course=course)
    assert row.changes > row.computed_changes == 0
    # A reader that had made the row and read its count before the write: what it stores
    # with that count is stale once the write is counted.
    CourseDue.objects.filter(course=course).delete()
    seen = due.rows_for([course.pk])
    due.changed(course_ids=[course.pk])
    today = timezone.localdate()
    due.store({course.pk: (False, today, 1)}, seen, {course.pk: course.rule_pack}, timezone.now())
    assert not Course.objects.filter(due.fresh(timezone.now()), pk=course.pk).exists()


def test_a_course_that_cannot_be_read_is_listed_not_hidden_with_everyone_else(demo, caplog):
    from isoguard.courses.models import ContraceptionPlan

    plan = ContraceptionPlan.objects.filter(course__patient__clinic=demo.organisation).first()
    assert plan is not None
    # A method the app does not know, written behind its back.
    ContraceptionPlan.objects.filter(pk=plan.pk).update(methods=["not_a_method"])
    whole = clinic_worklist(demo, timezone.localdate())
    broken = [i for i in whole if i.course is not None and i.course.pk == plan.course_id]
    assert [i.what[:41] for i in broken] == ["This course's record could not be read, s"]
    assert broken[0].urgency == "deadline_today" and broken[0].who == "clinic"
    assert len({i.patient.pk for i in whole}) > 1  # everyone else is still listed
    assert f"course {plan.course_id} could not be read" in caplog.text
    assert_pages_are_the_list(demo, sizes=(3,))
