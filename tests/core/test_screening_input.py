"""A screening request is read strictly: a bad field is refused, named, with what is allowed."""

from __future__ import annotations

import datetime as dt

import pytest

from isoguard.core.screening import MedicineInput
from isoguard.core.screening_input import ScreeningInputError, screening_input_from_dict

VALID = {
    "as_of": "2026-11-25",
    "birth_date": "2004-06-01",
    "jurisdiction": "US",
    "diagnosis": "acne_conglobata",
    "failed_treatments": ["oral_minocycline"],
    "can_become_pregnant": True,
    "allergies": ["  parabens "],
    "medicines": ["minocycline 100 mg", {"name": "Solodyn", "rxnorm": "6980"}],
    "history": ["depression"],
}


def test_a_valid_request_is_read_field_by_field():
    given = screening_input_from_dict(VALID)
    assert given.as_of == dt.date(2026, 11, 25) and given.jurisdiction == "US"
    assert given.allergies == ("parabens",)
    assert given.medicines == (
        MedicineInput("minocycline 100 mg"),
        MedicineInput("Solodyn", "6980"),
    )
    assert given.pregnant is False and given.can_become_pregnant is True


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"birth_date": "2027-01-01"}, "birth_date", "is in the future"),
        ({"birth_date": "1900-01-01"}, "birth_date", "over 120 years"),
        ({"birth_date": "01/06/2004"}, "birth_date", "must be a date YYYY-MM-DD"),
        ({"as_of": None}, "as_of", "is required"),
        ({"jurisdiction": "FR"}, "jurisdiction", "must be one of US, EU, UK"),
        ({"diagnosis": "rosacea"}, "diagnosis", "must be one of severe_recalcitrant_nodular_acne"),
        ({"failed_treatments": ["magic"]}, "failed_treatments[0]", "must be one of"),
        ({"pregnant": "no"}, "pregnant", "must be true or false"),
        ({"can_become_pregnant": "yes"}, "can_become_pregnant", "true, false or null"),
        ({"allergies": "soy"}, "allergies", "must be a list"),
        ({"allergies": ["soy", ""]}, "allergies[1]", "is empty"),
        ({"allergies": ["x" * 201]}, "allergies[0]", "longer than 200"),
        ({"medicines": [{"name": "x", "rxnorm": "abc"}]}, "medicines[0].rxnorm", "digits"),
        ({"medicines": [{"dose": 3}]}, "medicines[0]", 'must be text or {"name"'),
        ({"history": [7]}, "history[0]", "must be text"),
        ({"previous_course_last_dose": "2027-01-01"}, "previous_course_last_dose", "future"),
        ({"weight": 70}, "weight", "unknown field"),
    ],
)
def test_a_bad_field_is_refused_naming_it(change, field, message):
    with pytest.raises(ScreeningInputError) as caught:
        screening_input_from_dict({**VALID, **change})
    assert caught.value.field == field
    assert message in caught.value.message


def test_a_request_that_is_not_an_object_is_refused():
    with pytest.raises(ScreeningInputError, match="expected a JSON object"):
        screening_input_from_dict(["not", "an", "object"])
