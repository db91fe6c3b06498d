"""Dosing pages: the prescriber's dose page, the patient's diary, the chart, the calendar."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from isoguard.courses.models import Course, DoseDiaryEntry
from isoguard.demo import create_demo


@pytest.fixture
def demo(db):
    create_demo(timezone.localdate())
    return Course.objects.get(patient__given_name="Alice")


def login(client, username):
    from isoguard.accounts.models import User

    client.force_login(User.objects.get(username=username))


def test_the_prescriber_sees_the_dose_the_chart_and_the_history(demo, client):
    login(client, "dr.rivera")
    text = client.get(reverse("dose_plan", args=[demo.pk])).content.decode()
    assert "30 mg in the morning and 30 mg in the evening" in text
    assert 'data-testid="cumulative-chart"' in text and "<polyline" in text
    assert 'data-testid="dose-history"' in text


def test_changing_the_dose_keeps_what_was_typed_when_it_is_refused(demo, client):
    login(client, "dr.rivera")
    url = reverse("dose_plan", args=[demo.pk])
    response = client.post(
        url,
        {
            "mg_per_kg_day": "2.5",
            "target_mg_per_kg": 120,
            "weight_kg": "62.0",
            "effective_from": "2026-11-25",
        },
    )
    assert response.status_code == 200
    assert "above the label maximum" in str(response.context["form"].errors["mg_per_kg_day"])
    changed = client.post(
        url,
        {
            "mg_per_kg_day": "0.5",
            "target_mg_per_kg": 150,
            "weight_kg": "62.0",
            "effective_from": timezone.localdate().isoformat(),
            "reason": "dry lips",
        },
        follow=True,
    )
    assert "The new dose is saved" in changed.content.decode()
    assert demo.dose_plans.count() == 2


def test_the_patient_ticks_a_dose_and_is_told_a_missed_one_is_skipped(demo, client):
    login(client, "alice")
    today = timezone.localdate().isoformat()
    response = client.post(
        reverse("diary_record", args=[demo.pk]),
        {"day": today, "time": "morning", "answer": "missed"},
        HTTP_HX_REQUEST="true",
    )
    text = response.content.decode()
    assert "Do not take two doses to make up for it" in text
    assert DoseDiaryEntry.objects.get(course=demo, day=today, time="morning").taken is False


def test_a_bad_diary_answer_changes_nothing(demo, client):
    login(client, "alice")
    before = DoseDiaryEntry.objects.count()
    response = client.post(
        reverse("diary_record", args=[demo.pk]),
        {"day": "yesterday", "time": "noon", "answer": "maybe"},
        follow=True,
    )
    assert "day must be a date" in response.content.decode()
    assert DoseDiaryEntry.objects.count() == before


def test_the_patient_home_shows_progress_and_how_to_take_it(demo, client):
    login(client, "alice")
    text = client.get(reverse("home")).content.decode()
    assert 'data-testid="projected-end"' in text
    assert "Swallow each capsule whole" in text and "Take it with a meal" in text


def test_another_patient_cannot_see_or_write_the_diary(demo, client):
    login(client, "ben")
    assert client.get(reverse("diary", args=[demo.pk])).status_code == 403
    assert (
        client.post(
            reverse("diary_record", args=[demo.pk]),
            {"day": timezone.localdate().isoformat(), "time": "morning", "answer": "taken"},
        ).status_code
        == 403
    )


def test_the_calendar_lists_the_dose_times_and_the_test_after_the_course(demo, client):
    login(client, "alice")
    response = client.get(reverse("course_calendar", args=[demo.pk]))
    assert response["Content-Type"].startswith("text/calendar")
    events = Calendar.from_ical(response.content).walk("VEVENT")
    summaries = [str(e["summary"]) for e in events]
    assert "Isotretinoin morning dose: 30 mg" in summaries
    assert any(s.startswith("Pregnancy test after the last dose") for s in summaries)
    assert "Pregnancy test before the next prescription" in summaries
    dose = next(e for e in events if "morning dose" in str(e["summary"]))
    assert dose["rrule"]["FREQ"] == ["DAILY"]
    assert "Swallow each capsule whole" in str(dose["description"])
    last = next(e for e in events if "projected last dose" in str(e["summary"]))
    assert last.decoded("dtstart") > timezone.localdate() + dt.timedelta(days=30)


def test_the_patient_and_the_clinic_see_what_is_due_next(db, client):
    create_demo(timezone.localdate())
    login(client, "erin")  # took her last dose 30 days ago
    text = client.get(reverse("home")).content.decode()
    assert 'data-obligation="post_course_test"' in text
    assert 'data-obligation="contraception_continues"' in text
    login(client, "dr.rivera")
    from isoguard.patients.models import Patient

    alice = Patient.objects.get(given_name="Alice")
    text = client.get(reverse("patient_detail", args=[alice.pk])).content.decode()
    assert 'data-obligation="next_prescription"' in text


def test_the_calendar_uses_the_dose_times_the_patient_chose(world, client):
    from isoguard.courses.dosing_services import dose_plan_set
    from isoguard.reminders.models import ContactPreference

    course = world.alice.courses.get()
    course.first_dose_on = dt.date(2026, 11, 1)
    course.save()
    dose_plan_set(user=world.prescriber, course_id=course.pk, mg_per_kg_day=Decimal("1.0"),
                  target_mg_per_kg=120, effective_from=course.first_dose_on)  # fmt: skip
    ContactPreference.objects.create(
        patient=world.alice, morning_time=dt.time(7, 15), evening_time=dt.time(21, 30)
    )
    client.force_login(world.alice_user)
    body = client.get(f"/courses/{course.pk}/calendar.ics").content.decode()
    assert "T071500" in body and "T213000" in body


def test_a_refused_diary_or_programme_page_is_audited_and_records_no_allowed_view(world, client):
    from isoguard.audit.models import AuditEvent

    course = world.alice.courses.get()
    client.force_login(world.pharmacist)  # sees Alice through her prescription, not her diary
    for url in (f"/courses/{course.pk}/diary/", f"/courses/{course.pk}/programme/"):
        assert client.get(url).status_code == 403
    events = AuditEvent.objects.filter(actor=world.pharmacist)
    assert events.filter(outcome="refused").count() == 2
    assert not events.filter(outcome="allowed").exclude(action="login").exists()


def test_an_unknown_programme_step_is_refused_by_name_and_records_nothing(demo, client):
    from isoguard.courses.models import Consent, MonthlyCheck

    login(client, "dr.rivera")
    course = Course.objects.filter(patient__clinic__name__startswith="Riverside").first()
    url = reverse("programme", args=[course.pk])
    before = (Consent.objects.count(), MonthlyCheck.objects.count(), course.status)
    response = client.post(url, {"step": "sign_everything"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "step: expected one of start_course, enrol" in text and "sign_everything" in text
    course.refresh_from_db()
    assert (Consent.objects.count(), MonthlyCheck.objects.count(), course.status) == before
