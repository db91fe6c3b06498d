"""Lab monitoring: results with units, thresholds, the schedule, and the worklist."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from isoguard.audit.models import AuditEvent
from isoguard.courses import lab_services
from isoguard.courses.models import DosePlan, LabResult
from isoguard.courses.worklist import clinic_worklist

TODAY = timezone.localdate


def record(world, test="triglycerides", value="210", unit="mg/dL", user=None, taken_on=None):
    return lab_services.lab_record(
        user=user or world.prescriber, patient_id=world.alice.pk, test=test, value=value,
        unit=unit, taken_on=taken_on or TODAY(),
    )  # fmt: skip


def lab_items(world):
    return [i for i in clinic_worklist(world.prescriber, TODAY()) if i.kind == "lab" and i.lab]


def test_a_normal_result_is_kept_with_its_loinc_code_and_no_finding(world):
    lab = record(world)
    assert (lab.loinc_code, lab.unit, lab.findings) == ("2571-8", "mg/dL", [])
    assert lab_items(world) == []
    assert AuditEvent.objects.filter(action="create", object_type="courses.labresult").exists()


@pytest.mark.parametrize(
    ("value", "unit", "levels"),
    [("499", "mg/dL", []), ("500", "mg/dL", ["review"]), ("800", "mg/dL", ["stop", "review"]),
     ("5.6", "mmol/L", ["review"]), ("9.1", "mmol/L", ["stop", "review"])],
)  # fmt: skip
def test_triglycerides_over_a_threshold_reach_the_worklist(world, value, unit, levels):
    lab = record(world, value=value, unit=unit)
    assert [f["level"] for f in lab.findings] == levels
    items = lab_items(world)
    assert [i.lab for i in items] == ([lab] if levels else [])
    if levels:
        expected = "report_stop_and_call" if "stop" in levels else "report_call_today"
        assert items[0].urgency == expected and items[0].who == "prescriber"


def test_a_result_over_a_threshold_stays_on_the_worklist_until_reviewed(world):
    high = record(world, value="650", taken_on=TODAY() - dt.timedelta(days=3))
    assert [i.lab for i in lab_items(world)] == [high]
    lab_services.lab_review(user=world.staff, lab_id=high.pk)
    assert lab_items(world) == []
    again = record(world, value="700", taken_on=TODAY() - dt.timedelta(days=2))
    record(world, value="300")  # a newer normal result does not clear it: someone must look
    assert [i.lab for i in lab_items(world)] == [again]


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"test": "glucose"}, "test"), ({"value": "lots"}, "value"), ({"value": "-3"}, "value"),
     ({"unit": "g/L"}, "unit"), ({"taken_on": dt.date(2999, 1, 1)}, "taken_on")],
)  # fmt: skip
def test_bad_input_names_the_field_and_stores_nothing(world, fields, field):
    with pytest.raises(ValidationError) as error:
        record(world, **fields)
    assert field in error.value.message_dict
    assert not LabResult.objects.exists()


def test_only_the_clinic_records_labs(world):
    for outsider in (world.alice_user, world.pharmacist, world.other_prescriber):
        with pytest.raises(PermissionDenied):
            record(world, user=outsider)
    assert not LabResult.objects.exists()


def test_the_baseline_and_peak_tests_come_due_on_the_worklist(world):
    course = world.alice.courses.get()
    course.first_dose_on = TODAY() + dt.timedelta(days=5)
    course.save()
    due = [i for i in clinic_worklist(world.prescriber, TODAY()) if i.kind == "lab"]
    assert {i.what.split(":")[1].split("(")[0].strip() for i in due} == {"alt", "triglycerides"}
    before = TODAY() - dt.timedelta(days=1)
    record(world, test="alt", value="25", unit="U/L", taken_on=before)
    record(world, taken_on=before)
    assert [i for i in clinic_worklist(world.prescriber, TODAY()) if i.kind == "lab"] == []
    # Started 40 days ago (the baseline tests above were before it); the dose went up 10 days
    # ago: the peak-dose tests are now due.
    LabResult.objects.update(taken_on=TODAY() - dt.timedelta(days=45))
    course.first_dose_on = TODAY() - dt.timedelta(days=40)
    course.save()
    for days_ago, mg in ((40, 40), (10, 60)):
        DosePlan.objects.create(
            course=course, effective_from=TODAY() - dt.timedelta(days=days_ago), weight_kg=60,
            mg_per_kg_day=1, target_mg_per_kg=120, daily_mg=mg, morning_mg=mg // 2,
            evening_mg=mg // 2, plan={}, set_by=world.prescriber,
        )  # fmt: skip
    assert lab_services.peak_dose_from(course) == TODAY() - dt.timedelta(days=10)
    peak = [i for i in clinic_worklist(world.prescriber, TODAY()) if i.kind == "lab"]
    assert peak and all("peak" in i.what for i in peak)


def test_a_clinics_schedule_and_thresholds_apply(world, settings):
    settings.ISOGUARD_LAB_THRESHOLDS = {
        "triglycerides": [{"value": 400, "unit": "mg/dL", "level": "review",
                           "action": "clinic: recheck in a week", "source": "clinic protocol"}]
    }  # fmt: skip
    lab = record(world, value="450")
    assert [f["action"] for f in lab.findings] == ["clinic: recheck in a week"]
    settings.ISOGUARD_LAB_SCHEDULE = {"us-ipledge-2026": "monthly"}
    assert lab_services.schedule_for(world.alice.courses.get()) == "monthly"


def test_the_clinic_records_a_lab_on_the_patient_page_and_sees_the_trend(world, client):
    client.force_login(world.staff)
    url = reverse("lab_new", args=[world.alice.pk])
    for days_ago, value in ((30, "180"), (0, "820")):
        taken = (TODAY() - dt.timedelta(days=days_ago)).isoformat()
        response = client.post(url, {"test": "triglycerides", "value": value, "unit": "mg/dL",
                                     "taken_on": taken, "fasting": "1"})  # fmt: skip
        assert response.status_code == 302
    page = client.get(reverse("patient_detail", args=[world.alice.pk])).content.decode()
    assert 'data-testid="lab-trend-triglycerides"' in page
    assert 'data-testid="lab-finding"' in page
    bad = client.post(url, {"test": "triglycerides", "value": "x", "unit": "mg/dL",
                            "taken_on": TODAY().isoformat()}, follow=True)  # fmt: skip
    assert "value: expected a number" in bad.content.decode()
    client.force_login(world.alice_user)
    assert client.post(url, {"test": "alt", "value": "20", "unit": "U/L",
                             "taken_on": TODAY().isoformat()}).status_code == 403  # fmt: skip


def test_an_enrolled_course_is_due_its_baseline_labs_and_mood_screen(world):
    from isoguard.courses.mood_services import mood_check_due

    course = world.alice.courses.get()
    course.status, course.first_dose_on = "enrolled", None
    course.save()
    assert {d.test.value for d in lab_services.course_labs_due(course, TODAY())} == {
        "alt",
        "triglycerides",
    }
    assert mood_check_due(world.alice, TODAY()).due
