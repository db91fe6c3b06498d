"""The patient's monthly checklist: all answers right to pass, explanations, acknowledgements."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from isoguard.courses import checklist_services as cs
from isoguard.courses.models import Course, MedicationGuideAck, MonthlyCheck, Prescription
from isoguard.demo import create_demo


@pytest.fixture
def fatima(db):
    create_demo(timezone.localdate())
    from isoguard.accounts.models import User

    return User.objects.get(username="fatima"), Course.objects.get(patient__given_name="Fatima")


def test_six_questions_all_right_pass_and_the_attempt_is_kept(fatima):
    user, course = fatima
    questions = cs.month_questions(course, timezone.localdate())
    assert len(questions) == 6
    check, result = cs.comprehension_answer(
        user=user, course_id=course.pk, answers={q.id: q.answer for q in questions}
    )
    assert result.passed and check.passed
    assert MonthlyCheck.objects.filter(
        course=course, kind="comprehension", done_on=timezone.localdate(), passed=True
    ).exists()


def test_one_wrong_answer_fails_and_explains(fatima):
    user, course = fatima
    questions = cs.month_questions(course, timezone.localdate())
    answers = {q.id: q.answer for q in questions}
    first = questions[0]
    answers[first.id] = (first.answer + 1) % len(first.choices)
    check, result = cs.comprehension_answer(user=user, course_id=course.pk, answers=answers)
    assert not result.passed and check.passed is False
    assert result.wrong == (first.id,)


def test_an_answer_out_of_range_is_refused_naming_it(fatima):
    user, course = fatima
    question = cs.month_questions(course, timezone.localdate())[0]
    with pytest.raises(ValidationError, match=question.id):
        cs.comprehension_answer(user=user, course_id=course.pk, answers={question.id: 9})


def test_the_patient_acknowledges_the_medication_guide_for_the_waiting_fill(fatima):
    user, course = fatima
    rx = Prescription.objects.get(course=course, dispense__isnull=True)
    cs.medication_guide_acknowledge(user=user, prescription_id=rx.pk)
    assert MedicationGuideAck.objects.get(prescription=rx).acknowledged_by == user


def test_the_clinic_cannot_answer_for_the_patient(fatima):
    from isoguard.accounts.models import User

    _, course = fatima
    with pytest.raises(PermissionDenied):
        cs.contraception_confirm(user=User.objects.get(username="dr.rivera"), course_id=course.pk)


def test_the_checklist_page_marks_the_answers(fatima, client):
    user, course = fatima
    client.force_login(user)
    questions = cs.month_questions(course, timezone.localdate())
    data = {f"q_{q.id}": q.answer for q in questions}
    wrong = questions[1]
    data[f"q_{wrong.id}"] = (wrong.answer + 1) % len(wrong.choices)
    text = client.post(reverse("checklist", args=[course.pk]), data).content.decode()
    assert "Not all right yet" in text
    assert f"The answer is: {wrong.choices[wrong.answer]}" in text


def test_a_refused_step_does_not_show_another_patients_checklist(world, client):
    course = world.alice.courses.get()
    client.force_login(world.bob_user)
    url = f"/courses/{course.pk}/checklist/"
    for data in ({"step": "medication_guide", "prescription": "999999"},
                 {"step": "medication_guide", "prescription": "x"}, {}):  # fmt: skip
        assert client.post(url, data).status_code == 403
    assert client.get(url).status_code == 403
