"""Reminders: every schedule with the clock controlled, quiet hours, channels, exactly once.

The demo is loaded as of Wednesday 25 November 2026 (D): Alice is 40 days into her course with
her diary ticked to yesterday, Ben has never answered the mood questionnaire, Fatima's fill
window closes on D, Erin's last dose was 30 days before D.
"""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from isoguard.audit.models import AuditEvent
from isoguard.cli import main
from isoguard.core.programs.obligations import obligations
from isoguard.courses.convert import course_record
from isoguard.courses.models import ContraceptionPlan, Course, DoseDiaryEntry, MoodAssessment
from isoguard.demo import create_demo
from isoguard.patients.models import Patient
from isoguard.reminders import services
from isoguard.reminders.channels import EMAIL_FOOTER, LocmemSmsBackend
from isoguard.reminders.models import ContactPreference, Notification, ReminderDelivery

TZ = ZoneInfo("America/New_York")
D = dt.date(2026, 11, 25)
SENT = ReminderDelivery.Status.SENT


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TZ)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


class FailingSms:
    def send_sms(self, to: str, text: str) -> None:
        raise RuntimeError("SMS gateway down")


@pytest.fixture(autouse=True)
def clinic_settings(settings):
    settings.TIME_ZONE = "America/New_York"
    settings.ISOGUARD_SMS_BACKEND = "isoguard.reminders.channels.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    yield
    LocmemSmsBackend.outbox.clear()


def load_demo() -> None:
    with time_machine.travel(at(D, 6), tick=False):
        create_demo(D)


@pytest.fixture
def demo(db):
    load_demo()


def patient(name: str) -> Patient:
    return Patient.objects.get(given_name=name)


def prefer(name: str, **choices) -> ContactPreference:
    who = patient(name)
    if choices.get("by_email"):
        who.email = f"{name.lower()}@example.org"
    if choices.get("by_sms"):
        who.phone = "+1 555 0142"
    who.save()
    return ContactPreference.objects.create(patient=who, **{"by_email": False, **choices})


def run(moment: dt.datetime) -> services.Summary:
    return services.run_reminders(moment)


def keys(name: str, kind: str | None = None) -> list[str]:
    rows = ReminderDelivery.objects.filter(patient__given_name=name, status=SENT)
    if kind:
        rows = rows.filter(kind=kind)
    return sorted({row.key for row in rows})


# --- Doses ---------------------------------------------------------------------------------------


def test_a_dose_reminder_comes_at_the_chosen_time_and_for_two_hours_after_once(demo):
    prefer("Alice", dose_reminders=True, morning_time=dt.time(7, 30))
    run(at(D, 7, 29))
    assert keys("Alice", "dose") == []
    run(at(D, 7, 30))
    assert keys("Alice", "dose") == ["dose:2026-11-25:morning"]
    note = Notification.objects.get(patient__given_name="Alice", kind="dose")
    assert note.title == "Time for your morning dose"
    run(at(D, 8, 0))
    run(at(D, 9, 29))
    assert Notification.objects.filter(patient__given_name="Alice", kind="dose").count() == 1


def test_a_dose_is_not_reminded_once_ticked_nor_after_its_window(demo):
    alice = prefer("Alice", dose_reminders=True)
    course = Course.objects.get(patient=alice.patient)
    DoseDiaryEntry.objects.create(course=course, day=D, time="evening", taken=True, dose_mg=30,
                                  recorded_by=alice.patient.user)  # fmt: skip
    run(at(D, 20, 5))
    assert keys("Alice", "dose") == []
    run(at(D + days(1), 10, 0))  # the morning dose's window was 08:00 to 10:00
    assert keys("Alice", "dose") == []


def test_a_late_evening_dose_is_still_reminded_after_midnight(demo):
    prefer("Alice", dose_reminders=True, evening_time=dt.time(23, 30), quiet_start=None,
           quiet_end=None)  # fmt: skip
    run(at(D + days(1), 0, 15))
    assert keys("Alice", "dose") == ["dose:2026-11-25:evening"]


def test_dose_reminders_are_off_until_the_patient_chooses_them(demo):
    run(at(D, 8, 0))
    run(at(D, 20, 0))
    assert not ReminderDelivery.objects.filter(kind="dose").exists()


def test_no_dose_reminder_before_the_first_dose_or_after_the_course(demo):
    prefer("Alice", dose_reminders=True)
    Course.objects.filter(patient__given_name="Alice").update(first_dose_on=D + days(1))
    run(at(D, 8, 0))
    Course.objects.filter(patient__given_name="Alice").update(
        first_dose_on=D - days(40), last_dose_on=D - days(1)
    )
    run(at(D, 20, 0))
    assert keys("Alice", "dose") == []


# --- Quiet hours ---------------------------------------------------------------------------------


def test_quiet_hours_postpone_a_reminder_until_they_end(demo):
    prefer("Alice", dose_reminders=True, quiet_start=dt.time(22), quiet_end=dt.time(8, 30))
    summary = run(at(D, 8, 0))
    assert keys("Alice", "dose") == [] and summary.postponed >= 1
    run(at(D, 8, 30))
    delivery = ReminderDelivery.objects.get(patient__given_name="Alice", kind="dose")
    assert (delivery.key, delivery.due_at, delivery.sent_at) == (
        "dose:2026-11-25:morning",
        at(D, 8, 0),
        at(D, 8, 30),
    )


def test_a_reminder_whose_window_passes_in_quiet_hours_is_dropped_but_a_days_is_not(demo):
    prefer("Alice", dose_reminders=True, quiet_start=dt.time(21), quiet_end=dt.time(10, 30))
    prefer("Fatima", quiet_start=dt.time(21), quiet_end=dt.time(10, 30))
    for hour, minute in ((8, 0), (9, 0), (10, 0), (10, 30)):
        run(at(D, hour, minute))
    assert keys("Alice", "dose") == []  # 08:00 to 10:00, all of it quiet
    assert keys("Fatima", "obligation") == ["obligation:fill_window_closes:2026-11-25"]
    assert ReminderDelivery.objects.get(key__startswith="obligation:fill").sent_at == at(D, 10, 30)


def test_quiet_hours_may_span_midnight_or_not_at_all():
    night = ContactPreference(quiet_start=dt.time(22), quiet_end=dt.time(7))
    assert night.is_quiet(dt.time(23)) and night.is_quiet(dt.time(6, 59))
    assert not night.is_quiet(dt.time(7)) and not night.is_quiet(dt.time(21, 59))
    nap = ContactPreference(quiet_start=dt.time(13), quiet_end=dt.time(15))
    assert nap.is_quiet(dt.time(14)) and not nap.is_quiet(dt.time(15))
    assert not ContactPreference(quiet_start=None, quiet_end=None).is_quiet(dt.time(3))


# --- The programme's timeline --------------------------------------------------------------------


def test_the_fill_window_is_reminded_the_day_before_and_on_the_day(demo):
    run(at(D - days(1), 8, 59))
    assert keys("Fatima", "obligation") == []
    run(at(D - days(1), 9, 0))
    assert keys("Fatima", "obligation") == ["obligation:fill_window_closes:2026-11-25:day-before"]
    run(at(D, 9, 0))
    run(at(D + days(1), 9, 0))  # closed: nothing more
    assert keys("Fatima", "obligation") == [
        "obligation:fill_window_closes:2026-11-25",
        "obligation:fill_window_closes:2026-11-25:day-before",
    ]
    titles = set(
        Notification.objects.filter(patient__given_name="Fatima", kind="obligation").values_list(
            "title", flat=True
        )
    )
    assert titles == {"Collect your prescription by Wednesday 25 November"}


def due_on(name: str, obligation: str) -> dt.date:
    course = Course.objects.get(patient__given_name=name)
    found = obligations(course_record(course), at(D, 12), pack=course.rule_pack)
    return next(o.due for o in found if o.id == obligation)


def test_after_the_course_the_test_and_the_end_of_contraception_come_on_their_day(demo):
    test_day = due_on("Erin", "post_course_test")
    end_day = due_on("Erin", "contraception_continues")
    run(at(test_day - days(1), 12))
    assert keys("Erin", "obligation") == []
    run(at(test_day, 9))
    run(at(end_day, 9))
    assert keys("Erin", "obligation") == [
        f"obligation:contraception_continues:{end_day}",
        f"obligation:post_course_test:{test_day}",
    ]
    erins = Notification.objects.filter(patient__given_name="Erin")
    titles = set(erins.values_list("title", flat=True))
    assert {"Pregnancy test after your course, due today",
            "Your contraception period ends today"} <= titles  # fmt: skip


def test_the_monthly_test_and_visit_come_on_their_day_and_not_the_clinics_own_steps(demo):
    test_day = due_on("Alice", "next_pregnancy_test")
    visit_day = due_on("Alice", "next_prescription")
    assert test_day < visit_day
    for day in (test_day - days(1), test_day, visit_day):
        run(at(day, 9, 30))
    assert keys("Alice", "obligation") == [
        f"obligation:monthly_checklist:{test_day}",
        f"obligation:next_pregnancy_test:{test_day}",
        f"obligation:next_prescription:{visit_day}",
    ]


# --- Mood ----------------------------------------------------------------------------------------


def test_the_mood_questionnaire_is_reminded_once_each_time_it_falls_due(demo, settings):
    run(at(D, 8, 59))
    assert keys("Ben", "mood") == []
    run(at(D, 9, 0))
    run(at(D + days(1), 9, 0))
    run(at(D + days(5), 15, 0))
    assert keys("Ben", "mood") == ["mood:2026-11-25"]  # never answered: one reminder, not daily
    ben = patient("Ben")
    MoodAssessment.objects.create(patient=ben, tool="phq9", score=2, item9=0,
                                  assessed_on=D + days(6), recorded_by=ben.user)  # fmt: skip
    run(at(D + days(6) + days(settings.ISOGUARD_MOOD_CHECK_DAYS) - days(1), 12))
    next_due = D + days(6) + days(settings.ISOGUARD_MOOD_CHECK_DAYS)
    run(at(next_due, 9, 0))
    assert keys("Ben", "mood") == ["mood:2026-11-25", f"mood:{next_due}"]


def test_an_enrolled_patient_is_reminded_of_the_mood_questionnaire_too(demo):
    """The worklist lists an enrolled patient's mood screen as due; the reminder must follow."""
    ben = patient("Ben")
    ben.courses.update(status="enrolled")
    run(at(D, 9, 0))
    assert keys("Ben", "mood") == ["mood:2026-11-25"]


# --- Channels and what they say ------------------------------------------------------------------

EXTERNAL_TEXTS = {
    "isoguard: time for your morning dose.",
    "isoguard: time for your evening dose.",
    services.TODAY_TEXT,
    services.TOMORROW_TEXT,
    services.MOOD_TEXT,
}
HEALTH_WORDS = ("isotretinoin", "claravis", "absorica", "myorisan", "zenatane", "pregnan",
                "contracept", "mood", "test", " mg", "phq", "prescription")  # fmt: skip


def test_e_mail_and_sms_say_only_that_something_is_due(demo, mailoutbox):
    for name in ("Alice", "Ben", "Chloe", "Dev", "Erin", "Fatima"):
        prefer(name, by_email=True, by_sms=True, dose_reminders=True)
    test_day = due_on("Erin", "post_course_test")
    for day in sorted({D - days(1), D, test_day}):
        for hour in (8, 9, 20):
            run(at(day, hour))
    assert len(mailoutbox) >= 8 and len(LocmemSmsBackend.outbox) == len(mailoutbox)
    for email in mailoutbox:
        assert email.subject == "isoguard reminder"
        assert email.body.removesuffix(EMAIL_FOOTER) in EXTERNAL_TEXTS
    assert {text for _, text in LocmemSmsBackend.outbox} <= EXTERNAL_TEXTS
    sent = " ".join(
        [m.subject + m.body for m in mailoutbox] + [t for _, t in LocmemSmsBackend.outbox]
    )
    assert not [word for word in HEALTH_WORDS if word in sent.lower()]
    assert LocmemSmsBackend.outbox[0][0] == "+1 555 0142"


def test_a_failing_channel_is_marked_failed_and_does_not_stop_the_others(demo, settings,
                                                                          mailoutbox):  # fmt: skip
    settings.ISOGUARD_SMS_BACKEND = f"{__name__}.FailingSms"
    prefer("Alice", by_email=True, by_sms=True, dose_reminders=True)
    summary = run(at(D, 8, 0))
    rows = {r.channel: r for r in ReminderDelivery.objects.filter(patient__given_name="Alice")}
    assert {c: r.status for c, r in rows.items()} == {"in_app": "sent", "email": "sent",
                                                      "sms": "failed"}  # fmt: skip
    assert rows["sms"].error == "SMS gateway down" and summary.failed == 1
    assert len(mailoutbox) == 1
    # A failure is final: it may have reached the gateway, and nothing is ever sent twice.
    settings.ISOGUARD_SMS_BACKEND = "isoguard.reminders.channels.LocmemSmsBackend"
    run(at(D, 8, 5))
    assert LocmemSmsBackend.outbox == []


def test_an_unknown_sms_backend_fails_the_text_messages_only(demo, settings):
    settings.ISOGUARD_SMS_BACKEND = "nowhere.Backend"
    prefer("Alice", by_sms=True, dose_reminders=True)
    run(at(D, 8, 0))
    statuses = dict(ReminderDelivery.objects.values_list("channel", "status").filter(
        patient__given_name="Alice"))  # fmt: skip
    assert statuses == {"in_app": "sent", "sms": "failed"}
    from isoguard.reminders.apps import sms_backend_check

    assert [e.id for e in sms_backend_check()] == ["reminders.W001"]


def test_a_channel_without_an_address_is_skipped_and_an_unchosen_one_not_tried(demo):
    alice = prefer("Alice", by_sms=True, dose_reminders=True, in_app=False)
    alice.patient.phone = ""
    alice.patient.save()
    summary = run(at(D, 8, 0))
    row = ReminderDelivery.objects.get(patient__given_name="Alice")
    assert (row.channel, row.status, row.error) == (
        "sms", "skipped", "no phone number on the patient record")  # fmt: skip
    assert summary.skipped == 1
    assert not Notification.objects.filter(patient__given_name="Alice").exists()


def test_by_default_a_patient_is_reminded_in_the_app_and_by_e_mail_when_there_is_one(demo):
    fatima = patient("Fatima")
    fatima.email = "fatima@example.org"
    fatima.save()
    assert services.preference_for(fatima).channels() == ["in_app", "email"]
    assert services.preference_for(patient("Ben")).channels() == ["in_app"]


# --- Exactly once --------------------------------------------------------------------------------


def test_every_delivery_is_audited(demo):
    run(at(D, 9, 0))
    sent = ReminderDelivery.objects.filter(status=SENT)
    events = AuditEvent.objects.filter(
        action="send_reminder", object_type="reminders.reminderdelivery"
    )
    assert sent.count() > 0
    assert sorted(int(e.object_id) for e in events) == sorted(r.pk for r in sent)
    assert {e.patient_id for e in events} == {r.patient_id for r in sent}


def test_isoguard_remind_twice_sends_nothing_twice(demo, capsys, mailoutbox, monkeypatch):
    # A management command closes the database connections when it ends; in a test they hold
    # the test's transaction, so they stay open.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    prefer("Alice", by_email=True, by_sms=True, dose_reminders=True)
    prefer("Fatima", by_email=True)
    assert main(["remind", "--now", "2026-11-25T09:00"]) == 0
    first = capsys.readouterr().out.strip().splitlines()[-1]
    counts = (Notification.objects.count(), len(mailoutbox), len(LocmemSmsBackend.outbox))
    assert main(["remind", "--now", "2026-11-25T09:00"]) == 0
    second = capsys.readouterr().out.strip().splitlines()[-1]

    assert first.startswith("2026-11-25 09:00 EST: sent 9, skipped 0, failed 0")
    assert second == "2026-11-25 09:00 EST: sent 0, skipped 0, failed 0, postponed 0 (quiet hours)"
    assert (Notification.objects.count(), len(mailoutbox), len(LocmemSmsBackend.outbox)) == counts
    # Alice's dose by 3 channels; Fatima's window and questionnaire by 2; Ben's and Dev's by 1.
    assert counts == (5, 3, 1)
    assert Notification.objects.filter(delivery__isnull=False).count() == counts[0]


def test_a_dry_run_lists_what_would_be_sent_and_records_nothing(demo, capsys):
    call_command("remind", "--now", "2026-11-25T09:00", "--dry-run")
    out = capsys.readouterr().out
    assert (
        "would send: patient" in out and "obligation:fill_window_closes:2026-11-25 by in_app" in out
    )
    assert "dry run: would send 4" in out
    assert not ReminderDelivery.objects.exists() and not Notification.objects.exists()
    with pytest.raises(CommandError, match="--now"):
        call_command("remind", "--now", "tomorrow")


def test_a_delivery_written_but_never_handed_to_its_channel_is_sent_by_the_next_run(demo):
    fatima = patient("Fatima")
    # A crash right after the row was written, before it was handed to the channel.
    ReminderDelivery.objects.create(
        patient=fatima, kind="obligation", key="obligation:fill_window_closes:2026-11-25",
        channel="in_app", due_at=at(D, 9), expires_at=at(D + days(1), 0), created_at=at(D, 9),
    )  # fmt: skip
    run(at(D, 9, 5))
    row = ReminderDelivery.objects.get(patient=fatima, kind="obligation")
    assert (row.status, row.sent_at) == ("sent", at(D, 9, 5))
    assert Notification.objects.filter(delivery=row).count() == 1


def test_a_delivery_handed_to_its_channel_and_never_marked_is_not_sent_again(demo, mailoutbox):
    prefer("Fatima", by_email=True, in_app=False)
    fatima = patient("Fatima")
    # A crash while the mail server had it: it may have gone.
    ReminderDelivery.objects.create(
        patient=fatima, kind="obligation", key="obligation:fill_window_closes:2026-11-25",
        channel="email", due_at=at(D, 9), expires_at=at(D + days(1), 0), created_at=at(D, 9),
        attempted_at=at(D, 9),
    )  # fmt: skip
    run(at(D, 9, 5))
    assert [m.body for m in mailoutbox] == [services.MOOD_TEXT + EMAIL_FOOTER]  # not the window
    summary = run(at(D, 9, 16))
    row = ReminderDelivery.objects.get(patient=fatima, kind="obligation")
    assert (row.status, row.error, summary.failed) == ("failed", services.INTERRUPTED, 1)
    run(at(D, 9, 30))
    assert len(mailoutbox) == 1


def test_a_delivery_never_sent_before_its_window_passed_is_skipped(demo):
    fatima = patient("Fatima")
    ReminderDelivery.objects.create(
        patient=fatima, kind="obligation", key="obligation:fill_window_closes:2026-11-25",
        channel="in_app", due_at=at(D, 9), expires_at=at(D + days(1), 0), created_at=at(D, 9),
    )  # fmt: skip
    summary = run(at(D + days(1), 9))
    row = ReminderDelivery.objects.get(key="obligation:fill_window_closes:2026-11-25")
    assert (row.status, row.error, summary.skipped) == ("skipped", services.EXPIRED, 1)
    assert not Notification.objects.filter(delivery=row).exists()


def test_the_database_refuses_a_second_row_for_one_occurrence_and_channel(demo):
    from django.db import IntegrityError, transaction

    fields = {"patient": patient("Ben"), "kind": "mood", "key": "mood:2026-11-25",
              "channel": "in_app", "due_at": at(D, 9), "expires_at": at(D, 23)}  # fmt: skip
    ReminderDelivery.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReminderDelivery.objects.create(**fields)


@pytest.mark.django_db(transaction=True)
def test_four_runs_at_once_send_each_reminder_once(settings):
    load_demo()
    prefer("Alice", by_email=True, by_sms=True, dose_reminders=True)
    prefer("Fatima", by_email=True, by_sms=True)
    from django.core import mail

    start = threading.Barrier(4)
    summaries: list[services.Summary] = []
    errors: list[BaseException] = []

    def remind() -> None:
        try:
            start.wait()
            summaries.append(services.run_reminders(at(D, 9, 0)))
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=remind) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    rows = ReminderDelivery.objects.all()
    assert sum(s.sent for s in summaries) == rows.filter(status=SENT).count() == rows.count() == 11
    assert Notification.objects.count() == rows.filter(channel="in_app").count() == 5
    assert len(mail.outbox) == rows.filter(channel="email").count() == 3
    assert len(LocmemSmsBackend.outbox) == rows.filter(channel="sms").count() == 3


def test_run_reminders_reads_the_clock_when_not_given_one(demo):
    with time_machine.travel(at(D, 9, 1), tick=False):
        summary = services.run_reminders()
    assert summary.sent == 4
    assert timezone.localtime(ReminderDelivery.objects.first().sent_at) == at(D, 9, 1)


def test_the_day_a_second_course_could_start_is_told_once(demo):
    erin = patient("Erin")
    course = erin.courses.get()
    second = course.last_dose_on + dt.timedelta(weeks=8)  # the label's gap (clinical.md 2.1)
    run(at(second - days(1), 12))
    assert [k for k in keys("Erin", "obligation") if k.startswith("second_course")] == []
    run(at(second, 10))
    run(at(second, 11))
    assert [k for k in keys("Erin", "obligation") if k.startswith("second_course")] == [
        f"second_course:{second}"
    ]


def test_as_a_worker_each_run_sends_only_what_is_new(demo, capsys, monkeypatch):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    monkeypatch.setattr("time.sleep", lambda seconds: None)
    with time_machine.travel(at(D, 12), tick=False):
        call_command("remind", "--every", "60", "--runs", "2")
    lines = [line for line in capsys.readouterr().out.splitlines() if "sent" in line]
    assert len(lines) == 2 and "sent 0," not in lines[0] and "sent 0," in lines[1]
    with pytest.raises(CommandError, match="--every"):
        call_command("remind", "--every", "5")


def test_one_course_that_cannot_be_read_holds_back_no_one_else(demo, caplog):
    prefer("Alice", dose_reminders=True, morning_time=dt.time(7, 30))
    # A contraception plan naming a method the app does not know (written behind its back).
    plans = ContraceptionPlan.objects.exclude(course__patient__given_name="Alice")
    broken = plans.first()
    assert broken is not None
    ContraceptionPlan.objects.filter(pk=broken.pk).update(methods=["not_a_method"])
    run(at(D, 7, 30))
    assert keys("Alice", "dose") == ["dose:2026-11-25:morning"]
    assert f"course {broken.course_id} could not be read" in caplog.text
