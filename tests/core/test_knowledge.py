"""Knowledge files load strictly: every entry sourced, every key known, every enum value valid."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from isoguard.core.knowledge.codes import load_codes
from isoguard.core.knowledge.loading import KnowledgeError, Status, entries, entry
from isoguard.core.vocabulary import LabTest


@dataclass(frozen=True)
class Sample:
    name: str
    status: Status
    source: str
    strength_mg: int | None = None


def test_every_code_has_a_source_and_a_known_status():
    codes = load_codes()
    for table in (codes.diagnoses, codes.pregnancy_tests, codes.lab_tests, codes.drugs):
        assert table
        for code in table:
            assert code.source.strip(), code
            assert code.status in Status


def test_every_monitoring_test_of_the_vocabulary_has_a_loinc_code():
    codes = load_codes()
    assert {code.test for code in codes.lab_tests} == set(LabTest)
    assert codes.lab_test(LabTest.ALT).loinc == "1742-6"
    assert codes.lab_test(LabTest.TRIGLYCERIDES).status == Status.SECONDARY


@pytest.mark.parametrize(
    ("slug", "icd10", "status"),
    [
        ("acne_vulgaris", "L70.0", "confirmed"),
        ("acne_conglobata", "L70.1", "confirmed"),
        ("acne_fulminans", "L70.8", "unconfirmed"),
    ],
)
def test_diagnoses_carry_the_status_the_knowledge_base_gives(slug, icd10, status):
    code = load_codes().diagnosis(slug)
    assert (code.icd10, code.status) == (icd10, status)


def test_an_unknown_diagnosis_names_the_known_ones():
    with pytest.raises(KeyError, match="acne_vulgaris"):
        load_codes().diagnosis("rosacea")


def test_the_isotretinoin_capsule_codes_are_the_confirmed_ones():
    scd = {c.strength_mg: c.rxcui for c in load_codes().drugs if c.tty == "SCD"}
    assert scd == {
        10: "197843",
        20: "197844",
        25: "1547561",
        30: "403930",
        35: "1547565",
        40: "197845",
    }


def test_an_unknown_key_is_an_error_naming_the_key():
    with pytest.raises(KnowledgeError, match=r"unknown key 'strenght_mg'"):
        entry(
            {"name": "x", "status": "confirmed", "source": "s", "strenght_mg": 10},
            Sample,
            where="t",
        )


def test_a_missing_source_is_an_error():
    with pytest.raises(KnowledgeError, match="missing key 'source'"):
        entry({"name": "x", "status": "confirmed"}, Sample, where="t")
    with pytest.raises(KnowledgeError, match="non-empty 'source'"):
        entry({"name": "x", "status": "confirmed", "source": "  "}, Sample, where="t")


def test_a_bad_status_lists_the_allowed_ones():
    with pytest.raises(KnowledgeError, match="'likely' is not one of: confirmed, secondary"):
        entry({"name": "x", "status": "likely", "source": "s"}, Sample, where="t")


def test_a_wrong_type_is_an_error_naming_the_key():
    with pytest.raises(KnowledgeError, match="key 'strength_mg': expected int"):
        entry(
            {"name": "x", "status": "confirmed", "source": "s", "strength_mg": "ten"},
            Sample,
            where="t",
        )


def test_a_table_that_is_not_an_array_of_tables_is_an_error():
    with pytest.raises(KnowledgeError, match=r"must be an array of tables \(\[\[sample\]\]\)"):
        entries({"sample": {"name": "x"}}, "sample", Sample, where="t")


def test_entries_are_numbered_in_errors():
    rows = [
        {"name": "a", "status": "confirmed", "source": "s"},
        {"name": "b", "status": "confirmed"},
    ]
    with pytest.raises(KnowledgeError, match=r"\[\[sample\]\] #2: missing key 'source'"):
        entries({"sample": rows}, "sample", Sample, where="t")
