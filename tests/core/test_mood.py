"""Mood screening: PHQ-9 / PHQ-A totals, bands, the item 9 crisis path and strict input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isoguard.core.knowledge.loading import Status
from isoguard.core.mood import MoodInputError, load_mood, score, tool_for_age
from isoguard.core.vocabulary import MoodTool

KNOWLEDGE = load_mood()


def answers_totalling(total: int) -> list[int]:
    """Nine answers in 0..3 with the given total, filled from item 1 on (item 9 last)."""
    item9 = max(0, total - 24)
    answers = [0] * 8 + [item9]
    left = total - item9
    for i in range(8):
        answers[i] = min(3, left)
        left -= answers[i]
    assert left == 0 and sum(answers) == total
    return answers


# --- the data --------------------------------------------------------------------------------


def test_there_is_one_tool_per_vocabulary_value():
    assert {t.id for t in KNOWLEDGE.tools} == set(MoodTool)
    assert {t.name for t in KNOWLEDGE.tools} == {"PHQ-9", "PHQ-A"}


@pytest.mark.parametrize("tool", list(MoodTool))
def test_each_tool_has_nine_items_and_four_options(tool):
    spec = KNOWLEDGE.tool(tool)
    assert [i.id for i in spec.item] == list(range(1, 10))
    assert [(o.value, o.label) for o in spec.option] == [
        (0, "Not at all"),
        (1, "Several days"),
        (2, "More than half the days"),
        (3, "Nearly every day"),
    ]
    assert spec.stem.strip() and all(i.text.strip() for i in spec.item)


@pytest.mark.parametrize("tool", list(MoodTool))
def test_item_9_is_the_self_harm_item_and_the_crisis_item(tool):
    spec = KNOWLEDGE.tool(tool)
    assert [i.id for i in spec.item if i.self_harm] == [9]
    assert "better off dead" in spec.item[8].text
    assert (KNOWLEDGE.crisis.item, KNOWLEDGE.crisis.above) == (9, 0)


def test_the_adolescent_wording_differs_where_the_form_does():
    phq9, phqa = KNOWLEDGE.tool(MoodTool.PHQ9), KNOWLEDGE.tool(MoodTool.PHQ_A)
    assert phqa.item[0].text == "Feeling down, depressed, irritable, or hopeless?"
    assert phqa.item[3].text == "Poor appetite, weight loss, or overeating?"
    assert phqa.item[8].text == (
        "Thoughts that you would be better off dead, or of hurting yourself in some way?"
    )
    assert phq9.item[1].text == "Feeling down, depressed, or hopeless"
    assert (phqa.age_min, phqa.age_max) == (11, 17)


def test_the_adolescent_suicide_questions_take_the_crisis_path():
    extras = KNOWLEDGE.tool(MoodTool.PHQ_A).extra
    assert {e.id for e in extras} == {"suicidal_thoughts_past_month", "suicide_attempt_ever"}
    assert all(e.crisis_if_yes for e in extras)
    assert KNOWLEDGE.tool(MoodTool.PHQ9).extra == ()


def test_the_bands_are_the_sources_and_every_entry_is_sourced():
    assert [(b.id, b.min, b.max) for b in KNOWLEDGE.bands] == [
        ("minimal", 0, 4),
        ("mild", 5, 9),
        ("moderate", 10, 14),
        ("moderately_severe", 15, 19),
        ("severe", 20, 27),
    ]
    sourced = [*KNOWLEDGE.tools, *KNOWLEDGE.bands, KNOWLEDGE.crisis]
    sourced += [e for t in KNOWLEDGE.tools for e in t.extra]
    for thing in sourced:
        assert thing.source.strip() and thing.status in Status, thing
    assert all("Kroenke" in b.source for b in KNOWLEDGE.bands)


# --- scoring ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_band_boundaries(total, band):
    result = score(MoodTool.PHQ9, answers_totalling(total))
    assert (result.total, result.band.id) == (total, band)
    assert result.advice == result.band.advice and result.advice


def test_the_total_is_the_sum_and_the_answers_are_kept_in_order():
    answers = [3, 2, 1, 0, 3, 2, 1, 0, 0]
    result = score("phq9", answers)
    assert result.total == 12
    assert result.answers == tuple(answers)
    assert result.tool is MoodTool.PHQ9


def test_a_mapping_of_item_numbers_scores_like_the_list():
    answers = [1, 0, 2, 0, 3, 0, 1, 0, 0]
    by_item = {9 - i: answers[8 - i] for i in range(9)}  # given in reverse order
    assert score(MoodTool.PHQ_A, by_item) == score(MoodTool.PHQ_A, answers)


@pytest.mark.parametrize("tool", list(MoodTool))
def test_item_9_of_1_is_a_crisis_even_with_a_total_of_1(tool):
    result = score(tool, [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert (result.total, result.band.id, result.item9) == (1, "minimal", 1)
    assert result.crisis is True
    assert result.crisis_reasons == ("item 9",)


def test_item_9_of_0_is_not_a_crisis_even_with_a_high_total():
    result = score(MoodTool.PHQ9, [3, 3, 3, 3, 3, 3, 3, 3, 0])
    assert (result.total, result.band.id, result.item9) == (24, "severe", 0)
    assert result.crisis is False and result.crisis_reasons == ()


def test_a_yes_to_an_adolescent_suicide_question_is_a_crisis():
    result = score(MoodTool.PHQ_A, [0] * 9, extras={"suicide_attempt_ever": True})
    assert result.crisis and result.crisis_reasons == ("suicide_attempt_ever",)
    calm = score(MoodTool.PHQ_A, [0] * 9, extras={"suicidal_thoughts_past_month": False})
    assert not calm.crisis


@given(st.lists(st.integers(min_value=0, max_value=3), min_size=9, max_size=9))
def test_property_total_is_sum_and_crisis_is_item_9(answers):
    for tool in MoodTool:
        result = score(tool, answers)
        assert result.total == sum(answers)
        assert result.crisis == (answers[8] > 0)
        assert result.band.min <= result.total <= result.band.max


# --- bad input names the field ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ([0, 0, 0, 5, 0, 0, 0, 0, 0], "item 4", "item 4: expected 0, 1, 2 or 3, got 5"),
        ([0, 0, 0, 0, 0, 0, 0, 0, -1], "item 9", "item 9: expected 0, 1, 2 or 3, got -1"),
        ([0, "2", 0, 0, 0, 0, 0, 0, 0], "item 2", "item 2: expected 0, 1, 2 or 3, got '2'"),
        ([0, 0, 1.0, 0, 0, 0, 0, 0, 0], "item 3", "got 1.0"),
        ([True, 0, 0, 0, 0, 0, 0, 0, 0], "item 1", "got True"),
        ([0, 0, 0, 0, 0, 0], "item 7", "item 7: missing; all 9 items must be answered"),
        ({i: 0 for i in range(1, 9)}, "item 9", "item 9: missing; all 9 items must be answered"),
        ([0] * 10, "item 10", "item 10: unknown item; the items are numbered 1 to 9"),
        ({**{i: 0 for i in range(1, 10)}, 0: 1}, "item 0", "unknown item"),
        ({**{i: 0 for i in range(1, 10)}, "1": 1}, "item '1'", "unknown item"),
        ("000000000", "answers", "expected the 9 answers"),
        (None, "answers", "expected the 9 answers"),
    ],
)
def test_invalid_answers_name_the_field(answers, field, message):
    with pytest.raises(MoodInputError) as raised:
        score(MoodTool.PHQ9, answers)
    assert raised.value.field == field
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_an_unknown_tool_is_refused_with_the_known_ones():
    with pytest.raises(MoodInputError, match="tool: expected one of phq9, phq_a"):
        score("bdi", [0] * 9)


def test_unknown_or_non_boolean_extra_answers_are_refused():
    with pytest.raises(MoodInputError, match="unknown question") as raised:
        score(MoodTool.PHQ9, [0] * 9, extras={"suicide_attempt_ever": True})
    assert raised.value.field == "suicide_attempt_ever"
    with pytest.raises(MoodInputError, match="expected true or false"):
        score(MoodTool.PHQ_A, [0] * 9, extras={"suicide_attempt_ever": "no"})


# --- which tool for which age ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "tool"),
    [(11, MoodTool.PHQ_A), (14, MoodTool.PHQ_A), (17, MoodTool.PHQ_A), (18, MoodTool.PHQ9),
     (80, MoodTool.PHQ9)],
)  # fmt: skip
def test_tool_for_age(age, tool):
    assert tool_for_age(age) is tool


@pytest.mark.parametrize("age", [10, 0])
def test_no_tool_below_11(age):
    with pytest.raises(ValueError, match=rf"age {age}: .*under 11 years"):
        tool_for_age(age)


@pytest.mark.parametrize("age", [-1, 12.5, True, "12"])
def test_tool_for_age_refuses_what_is_not_an_age(age):
    with pytest.raises(ValueError, match="age_years: expected a whole number of years"):
        tool_for_age(age)
