"""Emergency and crisis numbers: every entry sourced, required lines present, never no number."""

from __future__ import annotations

import copy

import pytest

from isoguard.core.helplines import (
    COUNTRY_CHOICES,
    Country,
    helplines_for,
    load_helplines,
    parse_helplines,
)
from isoguard.core.knowledge.loading import KnowledgeError, Status, read_toml

EU_MEMBER_STATES = {
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
}  # fmt: skip


def numbers(country: Country) -> set[str]:
    return {line.number for line in country.crisis}


def good_data() -> dict:
    """A small valid file, built here so the parser is tested without the real file."""
    return {
        "country": [
            {
                "code": "XA",
                "name": "Testland",
                "emergency": "112",
                "emergency_source": "test source",
                "emergency_status": "confirmed",
                "crisis": [
                    {
                        "name": "Test line",
                        "number": "116 123",
                        "hours": "24/7",
                        "source": "test source",
                        "status": "secondary",
                    }
                ],
            }
        ],
        "fallback": [
            {
                "jurisdiction": "EU",
                "name": "EU",
                "emergency": "112",
                "emergency_source": "test source",
                "emergency_status": "confirmed",
            }
        ],
    }


# --- the real file ---------------------------------------------------------------------------


def test_the_file_lists_the_us_the_uk_and_every_eu_member_state_once():
    assert set(load_helplines()) == EU_MEMBER_STATES | {"US", "GB"}
    assert len(EU_MEMBER_STATES) == 27


def test_every_entry_has_an_emergency_number_with_a_source_and_a_status():
    for code, country in load_helplines().items():
        assert country.code == code
        assert country.emergency.strip(), code
        assert country.emergency_dial.isdigit(), code
        assert country.emergency_source.strip(), code
        assert country.emergency_status in Status, code
        assert not country.fallback, code


def test_every_crisis_line_has_a_number_hours_a_source_and_a_status():
    lines = [line for c in load_helplines().values() for line in c.crisis]
    assert len(lines) > 25
    for line in lines:
        assert line.number.strip() and line.dial.isdigit(), line
        assert line.hours.strip(), line
        assert line.source.strip(), line
        assert line.status in Status, line


def test_a_country_without_a_crisis_line_says_why():
    for country in load_helplines().values():
        if not country.crisis:
            assert country.note.strip(), country.code


def test_the_united_states_has_911_and_988():
    us = load_helplines()["US"]
    assert us.emergency == "911"
    assert "988" in numbers(us)


def test_the_united_kingdom_has_999_and_the_samaritans():
    gb = load_helplines()["GB"]
    assert gb.emergency == "999"
    assert "112" in gb.emergency_also
    samaritans = next(line for line in gb.crisis if line.number == "116 123")
    assert "Samaritans" in samaritans.name


def test_ireland_has_112_or_999_and_the_samaritans():
    ie = load_helplines()["IE"]
    assert {ie.emergency, *ie.emergency_also} == {"112", "999"}
    samaritans = next(line for line in ie.crisis if line.number == "116 123")
    assert "Samaritans" in samaritans.name


@pytest.mark.parametrize("code", sorted(EU_MEMBER_STATES))
def test_every_eu_member_state_has_112(code):
    assert load_helplines()[code].emergency == "112"


@pytest.mark.parametrize(
    ("code", "number"),
    [
        ("DE", "0800 111 0 111"),
        ("DE", "0800 111 0 222"),
        ("FR", "3114"),
        ("NL", "113"),
        ("NL", "0800-0113"),
        ("ES", "024"),
        ("AT", "142"),
    ],
)
def test_national_crisis_lines_named_in_the_issue_are_listed(code, number):
    assert number in numbers(load_helplines()[code])


def test_country_choices_are_sorted_code_name_pairs_for_every_country():
    assert list(COUNTRY_CHOICES) == sorted(COUNTRY_CHOICES)
    assert dict(COUNTRY_CHOICES) == {c.code: c.name for c in load_helplines().values()}
    assert ("IE", "Ireland") in COUNTRY_CHOICES


# --- choosing the entry ----------------------------------------------------------------------


@pytest.mark.parametrize("code", ["DE", "de", " de ", "GB", "UK", "IE"])
def test_a_known_country_is_returned_whatever_the_jurisdiction(code):
    country = helplines_for(code, "US")
    assert country.code == {"UK": "GB"}.get(code.strip().upper(), code.strip().upper())
    assert not country.fallback


@pytest.mark.parametrize("code", [None, "", "  ", "ZZ"])
def test_a_missing_or_unknown_country_in_the_us_falls_back_to_the_us(code):
    country = helplines_for(code, "US")
    assert (country.code, country.emergency, country.fallback) == ("US", "911", True)
    assert "988" in numbers(country)


@pytest.mark.parametrize("code", [None, "", "ZZ"])
def test_a_missing_or_unknown_country_in_the_uk_falls_back_to_great_britain(code):
    country = helplines_for(code, "UK")
    assert (country.code, country.emergency, country.fallback) == ("GB", "999", True)
    assert "116 123" in numbers(country)


@pytest.mark.parametrize("code", [None, "", "ZZ"])
def test_a_missing_or_unknown_country_in_the_eu_falls_back_to_112_without_a_crisis_line(code):
    country = helplines_for(code, "EU")
    assert (country.emergency, country.crisis, country.fallback) == ("112", (), True)
    assert country.emergency_source.strip()


def test_the_fallback_flag_never_leaks_into_the_loaded_entries():
    helplines_for(None, "US")
    assert load_helplines()["US"].fallback is False


def test_an_unknown_jurisdiction_is_an_error_naming_the_allowed_ones():
    with pytest.raises(ValueError, match="US, EU, UK"):
        helplines_for("DE", "CA")


def test_a_clinic_override_replaces_an_entry_and_is_checked_strictly():
    table = {
        "code": "DE",
        "name": "Germany",
        "emergency": "112",
        "emergency_source": "Clinic protocol 2025",
        "emergency_status": "confirmed",
        "crisis": [],
        "note": "Clinic decision",
    }
    assert helplines_for("DE", "EU", overrides={"DE": table}).note == "Clinic decision"
    assert helplines_for("DE", "EU").crisis  # the file is untouched
    with pytest.raises(KnowledgeError, match="emergency_source"):
        helplines_for("DE", "EU", overrides={"DE": {**table, "emergency_source": " "}})


# --- the parser rejects bad data -------------------------------------------------------------


def test_the_parser_accepts_a_valid_file():
    helplines = parse_helplines(good_data())
    assert helplines.countries["XA"].crisis[0].dial == "116123"
    assert helplines.fallbacks


def test_the_real_file_parses_through_the_same_function():
    assert set(parse_helplines(read_toml("helplines.toml")).countries) == set(load_helplines())


def test_an_unknown_key_on_a_country_is_rejected_naming_the_entry():
    data = good_data()
    data["country"][0]["emergency_number"] = "112"
    with pytest.raises(KnowledgeError, match=r"XA.*unknown key 'emergency_number'"):
        parse_helplines(data)


def test_an_unknown_key_on_a_crisis_line_is_rejected():
    data = good_data()
    data["country"][0]["crisis"][0]["url"] = "https://example.org"
    with pytest.raises(KnowledgeError, match="unknown key 'url'"):
        parse_helplines(data)


def test_an_unknown_table_is_rejected():
    data = good_data()
    data["countries"] = []
    with pytest.raises(KnowledgeError, match="unknown table 'countries'"):
        parse_helplines(data)


@pytest.mark.parametrize("empty", ["", "   "])
def test_a_crisis_line_without_a_source_is_rejected(empty):
    data = good_data()
    data["country"][0]["crisis"][0]["source"] = empty
    with pytest.raises(KnowledgeError, match=r"XA.*non-empty 'source'"):
        parse_helplines(data)


def test_a_crisis_line_missing_its_source_key_is_rejected():
    data = good_data()
    del data["country"][0]["crisis"][0]["source"]
    with pytest.raises(KnowledgeError, match="missing key 'source'"):
        parse_helplines(data)


def test_an_emergency_number_without_a_source_is_rejected():
    data = good_data()
    data["country"][0]["emergency_source"] = ""
    with pytest.raises(KnowledgeError, match=r"XA.*emergency_source"):
        parse_helplines(data)


def test_a_duplicate_country_code_is_rejected():
    data = good_data()
    data["country"].append(copy.deepcopy(data["country"][0]))
    with pytest.raises(KnowledgeError, match="XA: code listed twice"):
        parse_helplines(data)


@pytest.mark.parametrize("where", ["emergency_status", "crisis"])
def test_a_status_outside_the_three_values_is_rejected(where):
    data = good_data()
    if where == "crisis":
        data["country"][0]["crisis"][0]["status"] = "verified"
    else:
        data["country"][0]["emergency_status"] = "verified"
    with pytest.raises(KnowledgeError, match="'verified' is not one of: confirmed"):
        parse_helplines(data)


@pytest.mark.parametrize("code", ["xa", "XAA", "X1", ""])
def test_a_code_that_is_not_iso_alpha_2_is_rejected(code):
    data = good_data()
    data["country"][0]["code"] = code
    with pytest.raises(KnowledgeError, match="ISO 3166-1 alpha-2"):
        parse_helplines(data)


@pytest.mark.parametrize("number", ["", "call 112", "11 2x"])
def test_a_number_that_is_not_a_phone_number_is_rejected(number):
    data = good_data()
    data["country"][0]["emergency"] = number
    with pytest.raises(KnowledgeError, match="not a phone number"):
        parse_helplines(data)


def test_the_fallback_flag_cannot_be_set_by_the_data():
    data = good_data()
    data["country"][0]["fallback"] = True
    with pytest.raises(KnowledgeError, match="'fallback' is set by the loader"):
        parse_helplines(data)


def test_a_fallback_for_a_jurisdiction_that_falls_back_to_a_country_is_rejected():
    data = good_data()
    data["fallback"].append({**data["fallback"][0], "jurisdiction": "US"})
    with pytest.raises(KnowledgeError, match="US: this jurisdiction already has a fallback"):
        parse_helplines(data)
