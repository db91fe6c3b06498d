"""What the patient is told, by level, and the symptom checklist (pure core)."""

from __future__ import annotations

import pytest

from isoguard.core.helplines import helplines_for
from isoguard.core.triage import ChecklistError, load_checklist, load_triage, triage
from isoguard.core.triage.advice import advise, load_self_care

US = helplines_for("US", "US")


def advice_for(text: str, ticked: tuple[str, ...] = (), jurisdiction: str = "US", country=US):
    return advise(
        triage(text, ticked),
        country=country,
        jurisdiction=jurisdiction,
        clinic_name="Riverside",
        clinic_phone="555-0100",
    )


def test_every_checklist_item_counts_at_its_concepts_level():
    knowledge = load_triage()
    for item in load_checklist():
        result = triage("", [item.id])
        assert [c.id for c in result.concepts] == [item.concept]
        assert result.level == knowledge.concept(item.concept).level
        assert result.concepts[0].evidence == f"ticked: {item.label}"


def test_ticks_and_words_combine_and_the_higher_level_wins():
    result = triage("my lips are a bit dry", ["chest_pain"])
    assert {c.id for c in result.concepts} == {"dry_lips", "chest_pain"}
    assert result.level == "stop_and_call"
    # The words raise a ticked effect that has lasted: the higher finding is kept.
    lasting = triage("dry mouth for three weeks now", ["dry_mouth"])
    assert lasting.concepts[0].level == "tell_prescriber"


def test_an_unknown_tick_is_refused_with_the_allowed_ids():
    with pytest.raises(ChecklistError, match="symptoms: unknown checklist item 'x'; allowed: dry"):
        triage("", ["x"])


def test_self_care_tips_come_from_the_sources():
    advice = advice_for("my mouth is so dry and my lips are cracking")
    assert advice.level == "self_care"
    assert advice.calls == ()
    assert advice.tips[0].startswith("Use a lip balm") or "sugarless" in advice.tips[0]
    assert any("saliva substitute" in tip for tip in advice.tips)
    assert advice.tips[-1] == "If any of these effects last or get worse, tell your prescriber."
    for tip in load_self_care().tips:
        assert tip.source and tip.status in ("confirmed", "secondary")


def test_stop_and_call_gives_the_clinic_number_and_no_self_care():
    advice = advice_for("i have chest pain")
    assert advice.level == "stop_and_call"
    assert [(c.kind, c.number) for c in advice.calls] == [("clinic", "555-0100")]
    assert advice.tips == ()
    assert not advice.urgent


def test_an_emergency_puts_the_emergency_number_first():
    advice = advice_for("my throat is closing up i cant breathe")
    assert advice.urgent
    assert [c.kind for c in advice.calls] == ["emergency", "clinic"]
    assert advice.calls[0].number == "911"


@pytest.mark.parametrize(
    ("code", "jurisdiction", "crisis"),
    [("US", "US", "988"), ("GB", "UK", "116 123"), ("IE", "EU", "116 123")],
)
def test_thoughts_of_suicide_give_the_countrys_crisis_line(code, jurisdiction, crisis):
    country = helplines_for(code, jurisdiction)
    advice = advice_for("kms lol", jurisdiction=jurisdiction, country=country)
    assert advice.level == "emergency"
    assert advice.calls[0].kind == "emergency"
    assert crisis in [c.number for c in advice.calls if c.kind == "crisis"]


def test_a_possible_pregnancy_in_the_us_names_the_registries():
    us = advice_for("my period is 2 weeks late")
    assert any("1-866-495-0654" in note for note in us.notes)
    uk = advice_for(
        "my period is 2 weeks late", jurisdiction="UK", country=helplines_for("GB", "UK")
    )
    assert not any("1-866-495-0654" in note for note in uk.notes)
    assert any("Stop taking" in note for note in uk.notes)
