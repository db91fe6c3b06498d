"""Triage follows the rubric rule by rule (own examples, not the dev set's phrasings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isoguard.core.triage import load_triage, triage

LEVELS = ["none", "self_care", "tell_prescriber", "call_today", "stop_and_call", "emergency"]


def read(text: str) -> tuple[str, set[str]]:
    result = triage(text)
    return result.level, {c.id for c in result.concepts}


@pytest.mark.parametrize(
    ("text", "level", "concepts"),
    [
        # One of each level.
        ("my lips are super chapped", "self_care", {"dry_lips"}),
        (
            "feeling a bit light-headed when I get up from the sofa",
            "tell_prescriber",
            {"mild_dizziness"},
        ),
        ("my knees have been aching for a few days", "call_today", {"musculoskeletal_pain"}),
        ("the whites of my eyes have gone yellow", "stop_and_call", {"jaundice"}),
        (
            "my tongue is swollen and I can't breathe properly",
            "emergency",
            {"allergic_swelling", "breathing_difficulty"},
        ),
        ("thanks for the appointment, all good here", "none", set()),
        # Several symptoms in one message: the highest level wins, every concept counts.
        (
            "dry skin, dry eyes and ringing in both ears",
            "stop_and_call",
            {"dry_skin", "dry_eyes", "tinnitus"},
        ),
    ],
)
def test_each_level_and_several_symptoms(text, level, concepts):
    assert read(text) == (level, concepts)


@pytest.mark.parametrize(
    "text",
    [
        "no chest pain at all",
        "I have not fainted",
        "never had a nosebleed",
        "haven't noticed any hair loss",
    ],
)
def test_a_symptom_the_patient_does_not_have_does_not_count(text):
    assert read(text) == ("none", set())


def test_negation_stops_at_the_next_clause():
    assert read("no headache, but my back is really sore") == (
        "call_today",
        {"musculoskeletal_pain"},
    )


@pytest.mark.parametrize(
    "text",
    [
        "what if my lips crack?",
        "is hair loss a common side effect?",
        "could I get nosebleeds from this?",
    ],
)
def test_a_question_or_hypothetical_does_not_count(text):
    assert read(text)[0] == "none"


def test_a_question_that_states_a_symptom_as_fact_counts():
    assert read("I had a nosebleed this morning, is that normal?")[1] == {"nosebleed"}


@pytest.mark.parametrize(
    "text", ["my brother gets nosebleeds all the time", "my friend on accutane fainted last week"]
)
def test_someone_elses_symptoms_do_not_count(text):
    assert read(text)[0] == "none"


def test_a_parent_reports_the_childs_symptoms():
    assert read("This is Sam's mum here. My son has had chest pain since this morning")[1] == {
        "chest_pain"
    }


def test_a_symptom_that_has_stopped_still_counts():
    assert read("had some chest tightness yesterday, it's gone now")[0] == "stop_and_call"


@pytest.mark.parametrize(
    ("text", "concepts"),
    [
        ("stomach feels a bit off", {"upset_stomach"}),
        ("worst stomach pain I've ever had", {"severe_abdominal_pain"}),
        ("threw up once after breakfast", {"upset_stomach"}),
        ("vomiting since last night and can't keep water down", {"severe_vomiting"}),
        ("headache that went with paracetamol", {"headache_mild"}),
        ("headache every day this week and it's getting worse", {"severe_headache"}),
        ("headache and my sight went blurry", {"severe_headache", "vision_change"}),
    ],
)
def test_severity_words_move_a_concept_up(text, concepts):
    assert read(text)[1] == concepts


def test_a_persistent_self_care_effect_is_raised_to_tell_prescriber():
    assert read("my lips have been cracked for three weeks") == ("tell_prescriber", {"dry_lips"})
    assert read("my lips are cracked") == ("self_care", {"dry_lips"})


@pytest.mark.parametrize(
    "text", ["kms lol", "honestly I want to die", "thinking about hurting myself"]
)
def test_any_mention_of_wanting_to_die_is_an_emergency(text):
    assert read(text) == ("emergency", {"suicidal_thoughts"})


def test_an_unlisted_symptom_is_other_and_severe_makes_it_call_today():
    assert read("my gums bleed when I brush") == ("tell_prescriber", {"other_symptom"})
    assert read("severe pain in my jaw") == ("call_today", {"other_symptom"})


def test_text_speak_and_misspellings_are_read():
    assert read("cant keep nothin down since yday, vomitting non stop")[0] == "stop_and_call"
    assert read("isotretinion made my pee look like cola")[1] == {"dark_urine"}


def test_evidence_names_the_words_that_found_each_concept():
    result = triage("lips cracked and now my throat is swelling")
    evidence = {c.id: c.evidence for c in result.concepts}
    assert "lips cracked" in evidence["dry_lips"]
    assert "swelling" in evidence["allergic_swelling"]


def test_every_concept_of_the_rubric_is_in_the_data_with_a_source():
    knowledge = load_triage()
    rubric = Path(__file__).parents[2] / "docs" / "triage" / "RUBRIC.md"
    ids = set()
    for line in rubric.read_text().splitlines():
        if line.startswith("| `") and line.split("`")[1] not in LEVELS:
            ids.add(line.split("`")[1])
    assert {c.id for c in knowledge.concepts} | {"other_symptom"} == ids
    assert all(c.source.strip() for c in knowledge.concepts)
    assert [lv.id for lv in sorted(knowledge.levels, key=lambda lv: lv.rank)] == LEVELS


@pytest.mark.parametrize("name", ["dev", "holdout", "holdout2", "holdout3", "holdout4", "holdout5"])
def test_the_triage_never_under_triages_an_urgent_labelled_report(name):
    """A guard, not the benchmark: bench/triage_dev.py measures accuracy on the same sets."""
    rows = [
        json.loads(line)
        for line in (Path(__file__).parents[1] / "data" / "triage" / f"{name}.jsonl")
        .read_text()
        .splitlines()
    ]
    for row in rows:
        if row["level"] in ("stop_and_call", "emergency"):
            got = triage(row["text"]).level
            assert LEVELS.index(got) >= LEVELS.index(row["level"]), (row["id"], got)


@pytest.mark.parametrize(
    "text",
    [
        "I read it can cause depression and honestly I want to die",
        "what if I want to kill myself",
        "I'm worried that I might hurt myself",
        "my friend said I should just kill myself",
    ],
)
def test_a_mention_of_suicide_counts_even_in_a_question_or_beside_someone_else(text):
    assert read(text) == ("emergency", {"suicidal_thoughts"})


def test_someone_elses_suicidal_thoughts_are_not_the_patients():
    assert read("my brother is suicidal")[0] == "none"


@pytest.mark.parametrize(
    ("text", "level"),
    [
        # A negation cue that opens a figure of speech denies nothing.
        ("my lips are dry. I dont know why my chest hurts", "stop_and_call"),
        ("my lips are dry. no clue why my throat is closing up", "emergency"),
        ("my lips are dry. no joke i want to die", "emergency"),
        ("nothing helps my dry lips, been 3 weeks", "tell_prescriber"),
        # A bare pain after an unrelated finding in another sentence is its own symptom.
        ("My lips are dry. I have severe pain in my side.", "call_today"),
        # A worry that states the symptom as fact counts it.
        ("my lips are dry. im worried that my eyes are yellow", "stop_and_call"),
        # More ways of saying it; a mild symptom beside them must not hide them.
        ("my lips are dry. I wish I was dead", "emergency"),
        ("my lips are dry. life isnt worth living", "emergency"),
        ("my skin is dry and no one would care if i killed myself", "emergency"),
        ("my lips are dry. I dont want to be here anymore", "emergency"),
        ("my lips are dry. I have no reason to live", "emergency"),
    ],
)
def test_a_mild_finding_does_not_hide_an_urgent_one_beside_it(text, level):
    assert read(text)[0] == level


@pytest.mark.parametrize("text", ["no chest pain at all", "i dont have chest pain"])
def test_a_plain_denial_still_denies(text):
    assert read(text) == ("none", set())
