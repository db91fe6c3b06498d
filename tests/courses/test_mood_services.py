"""Mood screening in the app: scored, kept, a crisis on the worklist at once, access checked."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from isoguard.audit.models import AuditEvent
from isoguard.courses import mood_services as services
from isoguard.courses import report_services
from isoguard.courses.models import MoodAssessment, SymptomReport

CALM = {i: 0 for i in range(1, 10)}


def record(world, answers, user=None, patient=None, extras=None):
    return services.mood_record(
        user=user or world.alice_user,
        patient_id=(patient or world.alice).pk,
        answers=answers,
        extras=extras,
    )


def test_a_calm_screen_is_kept_and_stays_off_the_worklist(world):
    assessment, result = record(world, {**CALM, 1: 1, 3: 2})
    assert (assessment.tool, assessment.score, assessment.item9) == ("phq9", 3, 0)
    assert result.band.id == "minimal"
    assert not SymptomReport.objects.exists()
    assert AuditEvent.objects.filter(
        action="create", object_type="courses.moodassessment", object_id=str(assessment.pk)
    ).exists()


def test_a_positive_item_9_goes_to_the_top_of_the_worklist_whatever_the_total(world):
    report_services.report_submit(
        user=world.alice_user, patient_id=world.alice.pk, text="chest pain this morning"
    )
    assessment, result = record(world, {**CALM, 9: 1})
    assert result.total == 1 and result.crisis
    top = report_services.worklist(world.prescriber).first()
    assert top.mood_assessment == assessment
    assert (top.triage_level, top.priority) == ("emergency", 5)
    assert top.concepts == [
        {"id": "suicidal_thoughts", "level": "emergency", "evidence": "PHQ-9 item 9: Several days"}
    ]


def test_a_moderate_total_goes_on_the_worklist_at_call_today(world):
    answers = {**CALM, 1: 2, 2: 2, 3: 2, 4: 2, 5: 2}
    _, result = record(world, answers)
    assert (result.total, result.band.id) == (10, "moderate")
    report = SymptomReport.objects.get()
    assert (report.triage_level, report.concepts[0]["id"]) == ("call_today", "mood_change")
    assert report in report_services.worklist(world.staff)


def test_an_adolescent_gets_the_phq_a_and_a_yes_to_a_suicide_question_is_a_crisis(world):
    world.chloe.user = world.bob_user  # give Chloe (16) a login for this test
    world.bob.user = None
    world.bob.save()
    world.chloe.save()
    extras = {"suicidal_thoughts_past_month": False, "suicide_attempt_ever": True}
    assessment, result = record(world, CALM, user=world.bob_user, patient=world.chloe,
                                extras=extras)  # fmt: skip
    assert assessment.tool == "phq_a"
    assert result.crisis and result.item9 == 0
    report = SymptomReport.objects.get()
    assert report.triage_level == "emergency"
    assert report.concepts[0]["evidence"] == "PHQ-A: yes to suicide_attempt_ever"


@pytest.mark.parametrize(
    ("answers", "field"),
    [({**CALM, 4: 5}, "item 4"), ({i: 0 for i in range(1, 9)}, "item 9")],
)
def test_bad_answers_name_the_item_and_keep_nothing(world, answers, field):
    with pytest.raises(ValidationError) as error:
        record(world, answers)
    assert field in error.value.message_dict
    assert not MoodAssessment.objects.exists()


def test_a_parent_does_not_answer_for_the_teenager_and_a_pharmacist_sees_no_screen(world):
    with pytest.raises(PermissionDenied):
        record(world, CALM, user=world.guardian, patient=world.chloe)
    assessment, _ = record(world, CALM)
    with pytest.raises(PermissionDenied):
        services.assessment_for(world.pharmacist, assessment.pk)
    with pytest.raises(PermissionDenied):
        services.assessment_for(world.other_prescriber, assessment.pk)
    assert services.assessment_for(world.staff, assessment.pk) == assessment


def test_the_screen_is_due_before_starting_then_every_30_days(world, settings):
    today = dt.date(2026, 11, 25)
    assert services.mood_check_due(world.alice, today).due
    assert not services.mood_check_due(world.bob, today).due  # no course
    with time_machine.travel(dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC), tick=False):
        record(world, CALM)
    assert not services.mood_check_due(world.alice, today + dt.timedelta(days=29)).due
    assert services.mood_check_due(world.alice, today + dt.timedelta(days=30)).due
    settings.ISOGUARD_MOOD_CHECK_DAYS = 14
    assert services.mood_check_due(world.alice, today + dt.timedelta(days=14)).due


def test_the_phq_a_suicide_questions_must_be_answered(world):
    world.chloe.user = world.bob_user
    world.bob.user = None
    world.bob.save()
    world.chloe.save()
    with pytest.raises(ValidationError) as error:
        record(world, CALM, user=world.bob_user, patient=world.chloe,
               extras={"suicidal_thoughts_past_month": False})  # fmt: skip
    assert "suicide_attempt_ever" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        maybe = {"suicidal_thoughts_past_month": False, "suicide_attempt_ever": "maybe"}
        record(world, CALM, user=world.bob_user, patient=world.chloe, extras=maybe)
    assert "suicide_attempt_ever" in error.value.message_dict
    assert not MoodAssessment.objects.exists()
