"""Read a screening request (JSON data) into a `ScreeningInput`, naming the field of any error.

Used by `isoguard screen FILE.json`, the JSON API and the web form, so every interface refuses
the same things in the same words.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from isoguard.core.knowledge.screening_data import load_screening
from isoguard.core.model import PatientFacts
from isoguard.core.screening import MedicineInput, ScreeningInput
from isoguard.core.vocabulary import Jurisdiction

MAX_AGE_YEARS = 120
MAX_TEXT = 200
MAX_ITEMS = 50
KEYS = {
    "as_of", "birth_date", "jurisdiction", "diagnosis", "failed_treatments", "pregnant",
    "breastfeeding", "can_become_pregnant", "allergies", "medicines", "history",
    "previous_course_last_dose",
}  # fmt: skip


class ScreeningInputError(ValueError):
    """A screening request that cannot be read; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def age_over_bound(birth_date: dt.date, on: dt.date) -> str:
    """Why a birth date is refused as too far back ('' if it is not): an age over MAX_AGE_YEARS on
    `on` is a typo of the year. A screening request and an imported Patient both check it."""
    if PatientFacts(birth_date, None).age_on(on) > MAX_AGE_YEARS:
        return f"gives an age over {MAX_AGE_YEARS} years"
    return ""


def screening_input_from_dict(data: Any) -> ScreeningInput:
    """Return the screening request in `data`, or raise ScreeningInputError naming the field."""
    if not isinstance(data, dict):
        raise ScreeningInputError("(request)", "expected a JSON object")
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise ScreeningInputError(unknown[0], f"unknown field; allowed: {', '.join(sorted(KEYS))}")
    knowledge = load_screening()
    as_of = _date(data, "as_of", required=True)
    birth_date = _date(data, "birth_date", required=True)
    assert as_of is not None and birth_date is not None
    if birth_date > as_of:
        raise ScreeningInputError("birth_date", "is in the future")
    if problem := age_over_bound(birth_date, as_of):
        raise ScreeningInputError("birth_date", problem)
    last_dose = _date(data, "previous_course_last_dose", required=False)
    if last_dose is not None and last_dose > as_of:
        raise ScreeningInputError("previous_course_last_dose", "is in the future")
    return ScreeningInput(
        as_of=as_of,
        birth_date=birth_date,
        jurisdiction=Jurisdiction(_one_of(data, "jurisdiction", [j.value for j in Jurisdiction])),
        diagnosis=_one_of(data, "diagnosis", [i.id for i in knowledge.indications]),
        failed_treatments=tuple(
            _strings(data, "failed_treatments", allowed=[t.id for t in knowledge.prior_treatments])
        ),
        pregnant=_bool(data, "pregnant", default=False),
        breastfeeding=_bool(data, "breastfeeding", default=False),
        can_become_pregnant=_optional_bool(data, "can_become_pregnant"),
        allergies=tuple(_strings(data, "allergies")),
        medicines=tuple(_medicines(data)),
        history=tuple(_strings(data, "history")),
        previous_course_last_dose=last_dose,
    )


def _date(data: dict[str, Any], key: str, *, required: bool) -> dt.date | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ScreeningInputError(key, "is required (a date YYYY-MM-DD)")
        return None
    if not isinstance(value, str):
        raise ScreeningInputError(key, f"must be a date YYYY-MM-DD, got {value!r}")
    try:
        return dt.date.fromisoformat(value[:10] if "T" in value else value)
    except ValueError:
        raise ScreeningInputError(key, f"must be a date YYYY-MM-DD, got {value!r}") from None


def _one_of(data: dict[str, Any], key: str, allowed: list[str]) -> str:
    value = data.get(key)
    if value not in allowed:
        raise ScreeningInputError(key, f"must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def _bool(data: dict[str, Any], key: str, *, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ScreeningInputError(key, f"must be true or false, got {value!r}")
    return value


def _optional_bool(data: dict[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise ScreeningInputError(key, f"must be true, false or null, got {value!r}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ScreeningInputError(where, f"must be text, got {value!r}")
    text = " ".join(value.split())
    if not text:
        raise ScreeningInputError(where, "is empty")
    if len(text) > MAX_TEXT:
        raise ScreeningInputError(where, f"is longer than {MAX_TEXT} characters")
    if "\x00" in text:
        raise ScreeningInputError(where, "must not contain a NUL character")
    return text


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ScreeningInputError(key, f"must be a list, got {value!r}")
    if len(value) > MAX_ITEMS:
        raise ScreeningInputError(key, f"has more than {MAX_ITEMS} items")
    return value


def _strings(data: dict[str, Any], key: str, *, allowed: list[str] | None = None) -> list[str]:
    items = [_text(v, f"{key}[{i}]") for i, v in enumerate(_list(data, key))]
    for i, item in enumerate(items):
        if allowed is not None and item not in allowed:
            raise ScreeningInputError(
                f"{key}[{i}]", f"must be one of {', '.join(allowed)}; got {item!r}"
            )
    return items


def _medicines(data: dict[str, Any]) -> list[MedicineInput]:
    medicines = []
    for i, value in enumerate(_list(data, "medicines")):
        where = f"medicines[{i}]"
        if isinstance(value, str):
            medicines.append(MedicineInput(_text(value, where)))
            continue
        if not isinstance(value, dict) or set(value) - {"name", "rxnorm"}:
            raise ScreeningInputError(where, 'must be text or {"name": ..., "rxnorm": ...}')
        rxnorm = value.get("rxnorm")
        if rxnorm is not None and not (
            isinstance(rxnorm, str) and rxnorm.isascii() and rxnorm.isdigit() and len(rxnorm) <= 20
        ):
            raise ScreeningInputError(
                f"{where}.rxnorm", f"must be an RxCUI of up to 20 digits, got {rxnorm!r}"
            )
        medicines.append(MedicineInput(_text(value.get("name"), f"{where}.name"), rxnorm))
    return medicines
