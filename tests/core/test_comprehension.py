"""Comprehension questions: a sourced bank, a fair monthly choice, and a score that explains."""

from __future__ import annotations

import copy
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoguard.core.comprehension import (
    BANK_FILE,
    MIN_QUESTIONS,
    QUESTIONS_PER_MONTH,
    AnswerOutOfRange,
    AppliesTo,
    ComprehensionError,
    Question,
    Topic,
    load_questions,
    parse_questions,
    questions_for,
    score,
)
from isoguard.core.knowledge.loading import KnowledgeError, Status, read_toml
from isoguard.core.vocabulary import Jurisdiction

BANK = load_questions()
BY_ID = {q.id: q for q in BANK}

# Two courses, so that "the same course" and "another course" both have a witness.
COURSE = "course-7f3a"
OTHER_COURSE = "course-91c2"


def pool(jurisdiction: Jurisdiction, can_become_pregnant: bool) -> list[Question]:
    return [
        q for q in BANK
        if q.applies(jurisdiction=jurisdiction, can_become_pregnant=can_become_pregnant)
    ]  # fmt: skip


def ids(questions) -> list[str]:
    return [q.id for q in questions]


def month(n: int, *, course: str = COURSE, jurisdiction=Jurisdiction.US, pregnant_possible=True):
    return questions_for(
        course_key=course,
        month=n,
        jurisdiction=jurisdiction,
        can_become_pregnant=pregnant_possible,
    )


def raw_bank() -> dict:
    return copy.deepcopy(read_toml(BANK_FILE))


def question(**changes) -> Question:
    """A question everyone in every jurisdiction is asked; its right answer is 'Yes'."""
    base = {
        "id": "sample",
        "topic": Topic.DAILY_LIFE,
        "text": "Is this a sample?",
        "choices": ("No", "Yes", "Maybe"),
        "answer": 1,
        "explanation": "It is a sample.",
        "applies_to": AppliesTo.EVERYONE,
        "jurisdictions": tuple(Jurisdiction),
        "status": Status.CONFIRMED,
        "source": "test",
    }
    return Question(**{**base, **changes})


# --- The bank -------------------------------------------------------------------------------


def test_the_bank_loads_with_at_least_20_questions():
    assert len(BANK) >= MIN_QUESTIONS == 20


def test_every_question_has_a_source_a_known_status_and_a_right_answer_among_its_choices():
    for q in BANK:
        assert q.source.strip(), q.id
        assert q.status in Status, q.id
        assert 3 <= len(q.choices) <= 4, q.id
        assert 0 <= q.answer < len(q.choices), q.id
        assert q.right_choice == q.choices[q.answer]


def test_question_ids_are_unique_slugs():
    assert len(BY_ID) == len(BANK)
    assert all(re.fullmatch(r"[a-z0-9_]+", q.id) for q in BANK)


def test_every_explanation_is_one_or_two_sentences():
    for q in BANK:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", q.explanation.strip()) if s]
        assert 1 <= len(sentences) <= 2, q.id


def test_the_right_answer_is_not_always_in_the_same_place():
    assert len({q.answer for q in BANK}) >= 3


@pytest.mark.parametrize(
    ("what_a_patient_must_understand", "question_id"),
    [
        ("birth defects", "birth_defects_any_amount"),
        ("never pregnant during and 1 month after", "no_pregnancy_during_and_after"),
        ("two methods or abstinence (US)", "two_methods_or_abstinence"),
        ("from when to when (US)", "contraception_from_one_month_before_to_one_month_after"),
        ("a test before each prescription (US)", "negative_test_before_every_prescription"),
        ("the 7-day window (US)", "collect_by_day_7_of_the_test"),
        ("the test one month after the last dose (US)", "test_one_month_after_last_dose"),
        ("no sharing", "never_share"),
        ("no blood donation", "no_blood_donation"),
        ("no handling when possibly pregnant", "no_handling_if_may_be_pregnant"),
        ("the Medication Guide at every fill (US)", "medication_guide_every_fill"),
        ("30 days and no refills (US)", "supply_30_days_no_refills"),
        ("a late period", "late_period_stop_and_call"),
        ("sex without contraception", "sex_without_contraception_stop_and_call"),
        ("mood changes", "mood_changes_stop_and_call"),
        ("thoughts of self-harm", "thoughts_of_self_harm"),
        ("severe stomach pain and vomiting", "severe_stomach_pain_stop_and_call"),
        ("bad headache and vision changes", "bad_headache_or_vision_change_stop_and_call"),
        ("a missed dose", "missed_dose_skip_never_double"),
        ("no waxing or laser for 6 months", "no_waxing_or_laser_for_6_months"),
        ("the sun", "avoid_sun_and_tanning_beds"),
        ("vitamin A supplements", "no_vitamin_a_supplements"),
        ("night driving", "night_vision_take_care_driving"),
    ],
)
def test_the_bank_asks_about_everything_a_patient_must_understand(
    what_a_patient_must_understand, question_id
):
    assert question_id in BY_ID, what_a_patient_must_understand


@pytest.mark.parametrize(
    ("question_id", "right_choice_says"),
    [
        ("missed_dose_skip_never_double", "Skip the missed dose"),
        ("collect_by_day_7_of_the_test", "Sunday the 7th"),
        ("no_blood_donation", "1 month after"),
        ("no_waxing_or_laser_for_6_months", "6 months"),
        ("late_period_stop_and_call", "Stop taking isotretinoin and call"),
    ],
)
def test_the_right_answer_is_the_one_the_sources_give(question_id, right_choice_says):
    assert right_choice_says in BY_ID[question_id].right_choice


def test_night_driving_advice_carries_the_unconfirmed_status_of_its_wording():
    assert BY_ID["night_vision_take_care_driving"].status == Status.UNCONFIRMED


def test_a_stop_and_call_derived_for_software_is_not_presented_as_confirmed():
    for question_id in ("late_period_stop_and_call", "sex_without_contraception_stop_and_call"):
        assert BY_ID[question_id].status == Status.UNCONFIRMED
        assert "clinical.md 5.3" in BY_ID[question_id].source


@pytest.mark.parametrize("word", ["iPLEDGE", "Medication Guide", "Day 7"])
def test_no_question_asked_in_the_uk_or_eu_speaks_of_a_us_only_fact(word):
    for jurisdiction in (Jurisdiction.UK, Jurisdiction.EU):
        for q in pool(jurisdiction, can_become_pregnant=True):
            text = " ".join((q.text, *q.choices, q.explanation))
            assert word not in text, (jurisdiction, q.id)


@pytest.mark.parametrize("word", ["Acknowledgement of Risk", "prescription is written"])
def test_no_question_asked_in_the_us_speaks_of_a_uk_or_eu_only_fact(word):
    for q in pool(Jurisdiction.US, can_become_pregnant=True):
        assert word not in " ".join((q.text, *q.choices, q.explanation)), q.id


# --- Loading rejects a bad bank, naming the question ------------------------------------------


def test_an_unknown_key_is_an_error_that_names_the_key():
    data = raw_bank()
    data["question"][0]["hint"] = "think about it"
    with pytest.raises(KnowledgeError, match="unknown key 'hint'"):
        parse_questions(data, where=BANK_FILE)


def test_an_answer_outside_the_choices_is_an_error_that_names_the_question():
    data = raw_bank()
    data["question"][3]["answer"] = len(data["question"][3]["choices"])
    with pytest.raises(KnowledgeError, match=data["question"][3]["id"]):
        parse_questions(data, where=BANK_FILE)


def test_a_question_without_a_source_is_an_error():
    data = raw_bank()
    data["question"][0]["source"] = " "
    with pytest.raises(KnowledgeError, match="source"):
        parse_questions(data, where=BANK_FILE)


def test_an_id_used_twice_is_an_error_that_names_it():
    data = raw_bank()
    data["question"][1]["id"] = data["question"][0]["id"]
    with pytest.raises(KnowledgeError, match=f"{data['question'][0]['id']}.*used twice"):
        parse_questions(data, where=BANK_FILE)


def test_a_bank_of_fewer_than_20_questions_is_an_error():
    data = raw_bank()
    data["question"] = data["question"][:19]
    with pytest.raises(KnowledgeError, match="at least 20"):
        parse_questions(data, where=BANK_FILE)


def test_two_choices_or_an_unknown_applies_to_is_an_error():
    data = raw_bank()
    data["question"][0]["choices"] = ["Yes", "No"]
    with pytest.raises(KnowledgeError, match="3 or 4 choices"):
        parse_questions(data, where=BANK_FILE)
    data = raw_bank()
    data["question"][0]["applies_to"] = "women"
    with pytest.raises(KnowledgeError, match="everyone, can_become_pregnant"):
        parse_questions(data, where=BANK_FILE)


def test_a_jurisdiction_without_a_pregnancy_prevention_question_is_an_error():
    data = raw_bank()
    for row in data["question"]:
        if row["topic"] == "pregnancy_prevention" and row["applies_to"] == "can_become_pregnant":
            row["jurisdictions"] = [j for j in row["jurisdictions"] if j != "UK"] or ["US"]
    with pytest.raises(KnowledgeError, match=r"no pregnancy_prevention question .* UK"):
        parse_questions(data, where=BANK_FILE)


def test_an_unknown_table_is_an_error():
    data = raw_bank()
    data["quiz"] = []
    with pytest.raises(KnowledgeError, match="unknown table 'quiz'"):
        parse_questions(data, where=BANK_FILE)


# --- Which questions, which month -------------------------------------------------------------


def test_a_month_asks_six_questions_by_default():
    assert len(month(1)) == QUESTIONS_PER_MONTH == 6


def test_the_same_course_and_month_always_get_the_same_questions_in_the_same_order():
    assert ids(month(3)) == ids(month(3))


def test_another_course_gets_other_questions_in_the_same_month():
    assert ids(month(1)) != ids(month(1, course=OTHER_COURSE))


def test_consecutive_months_ask_different_questions():
    assert not set(ids(month(1))) & set(ids(month(2)))


@pytest.mark.parametrize("jurisdiction", list(Jurisdiction))
def test_every_question_is_asked_before_any_comes_back(jurisdiction):
    applicable = pool(jurisdiction, can_become_pregnant=False)
    months = math.ceil(len(applicable) / QUESTIONS_PER_MONTH)
    asked = [
        q.id
        for n in range(1, months + 1)
        for q in month(n, jurisdiction=jurisdiction, pregnant_possible=False)
    ]
    assert set(asked) == {q.id for q in applicable}
    full_months = len(applicable) // QUESTIONS_PER_MONTH
    first_round = asked[: full_months * QUESTIONS_PER_MONTH]
    assert len(first_round) == len(set(first_round))


@pytest.mark.parametrize("jurisdiction", list(Jurisdiction))
def test_every_pregnancy_prevention_question_comes_round_for_someone_who_can_become_pregnant(
    jurisdiction,
):
    prevention = [q.id for q in pool(jurisdiction, True) if q.prevents_pregnancy]
    asked = {
        q.id for n in range(1, len(prevention) + 1) for q in month(n, jurisdiction=jurisdiction)
    }
    assert set(prevention) <= asked


@settings(max_examples=200, deadline=None)
@given(
    course=st.text(max_size=20),
    n=st.integers(min_value=1, max_value=60),
    jurisdiction=st.sampled_from(list(Jurisdiction)),
    pregnant_possible=st.booleans(),
    count=st.integers(min_value=1, max_value=14),
)
def test_a_month_never_asks_a_question_twice_and_asks_only_what_applies(
    course, n, jurisdiction, pregnant_possible, count
):
    chosen = questions_for(
        course_key=course,
        month=n,
        jurisdiction=jurisdiction,
        can_become_pregnant=pregnant_possible,
        count=count,
    )
    assert len(chosen) == count == len(set(ids(chosen)))
    assert all(
        q.applies(jurisdiction=jurisdiction, can_become_pregnant=pregnant_possible) for q in chosen
    )
    if pregnant_possible:
        assert any(q.prevents_pregnancy for q in chosen)


@pytest.mark.parametrize("jurisdiction", [Jurisdiction.UK, Jurisdiction.EU])
def test_no_us_only_question_is_ever_asked_in_the_uk_or_eu(jurisdiction):
    us_only = {q.id for q in BANK if q.jurisdictions == (Jurisdiction.US,)}
    assert {"collect_by_day_7_of_the_test", "medication_guide_every_fill"} <= us_only
    asked = {
        q.id
        for course in (COURSE, OTHER_COURSE)
        for n in range(1, 13)
        for q in month(n, course=course, jurisdiction=jurisdiction)
    }
    assert not asked & us_only


def test_someone_who_cannot_become_pregnant_is_never_asked_about_their_own_contraception():
    asked = [q for n in range(1, 13) for q in month(n, pregnant_possible=False)]
    assert all(q.applies_to == AppliesTo.EVERYONE for q in asked)
    assert "two_methods_or_abstinence" not in ids(asked)


def test_a_short_bank_fills_a_month_with_more_than_one_prevention_question():
    prevention = [
        question(id=f"prevent_{i}", topic=Topic.PREGNANCY_PREVENTION,
                 applies_to=AppliesTo.CAN_BECOME_PREGNANT)
        for i in range(3)
    ]  # fmt: skip
    bank = (*prevention, question(id="other"))
    chosen = questions_for(
        course_key=COURSE, month=1, jurisdiction=Jurisdiction.UK, can_become_pregnant=True,
        count=3, bank=bank,
    )  # fmt: skip
    assert len(chosen) == 3
    assert sum(q.prevents_pregnancy for q in chosen) == 2


@pytest.mark.parametrize(
    ("n", "count", "message"),
    [(0, 6, "month must be 1 or more"), (1, 0, "count must be 1 or more"), (1, 40, "only")],
)
def test_an_impossible_month_is_refused(n, count, message):
    with pytest.raises(ValueError, match=message):
        questions_for(
            course_key=COURSE, month=n, jurisdiction=Jurisdiction.US, can_become_pregnant=True,
            count=count,
        )  # fmt: skip


# --- Scoring ----------------------------------------------------------------------------------


def test_all_right_answers_pass():
    asked = month(1)
    result = score(asked, {q.id: q.answer for q in asked})
    assert result.passed
    assert all(a.right for a in result.answers)
    assert result.unanswered == result.unknown == result.wrong == ()


def test_one_wrong_answer_fails_and_says_why():
    asked = month(1)
    wrong = asked[2]
    answers = {q.id: q.answer for q in asked} | {wrong.id: (wrong.answer + 1) % len(wrong.choices)}
    result = score(asked, answers)
    assert not result.passed
    assert result.wrong == (wrong.id,)
    marked = next(a for a in result.answers if a.question_id == wrong.id)
    assert marked.explanation == wrong.explanation
    assert marked.right_choice == wrong.right_choice
    assert [a.question_id for a in result.answers] == ids(asked)


def test_an_unanswered_question_fails_and_is_named():
    asked = month(1)
    answers = {q.id: q.answer for q in asked[1:]}
    result = score(asked, answers)
    assert not result.passed
    assert result.unanswered == (asked[0].id,)
    assert result.wrong == ()


def test_an_answer_to_a_question_not_asked_fails_and_is_named():
    asked = month(1)
    answers = {q.id: q.answer for q in asked} | {"made_up_question": 0}
    result = score(asked, answers)
    assert not result.passed
    assert result.unknown == ("made_up_question",)


@pytest.mark.parametrize("bad_index", [-1, 4, 99, True])
def test_an_answer_that_is_not_a_choice_is_an_error_naming_the_question(bad_index):
    asked = (BY_ID["missed_dose_skip_never_double"], BY_ID["never_share"])
    with pytest.raises(AnswerOutOfRange, match="missed_dose_skip_never_double") as caught:
        score(asked, {"missed_dose_skip_never_double": bad_index, "never_share": 3})
    assert caught.value.question_id == "missed_dose_skip_never_double"
    assert isinstance(caught.value, ValueError)


def test_a_question_asked_twice_is_an_error_naming_it():
    q = BY_ID["never_share"]
    with pytest.raises(ComprehensionError, match="never_share"):
        score((q, q), {q.id: q.answer})


def test_scoring_no_questions_is_refused_rather_than_passed():
    with pytest.raises(ValueError, match="no questions"):
        score((), {})
