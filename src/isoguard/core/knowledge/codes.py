"""Codes for diagnoses (ICD-10), laboratory tests (LOINC) and drugs (RxNorm), from codes.toml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from isoguard.core.knowledge.loading import KnowledgeError, Status, entries, read_toml
from isoguard.core.vocabulary import LabTest


@dataclass(frozen=True)
class DiagnosisCode:
    slug: str
    icd10: str
    display: str
    status: Status
    source: str
    note: str = ""


@dataclass(frozen=True)
class PregnancyTestCode:
    loinc: str
    display: str
    specimen: str
    quantitative: bool
    status: Status
    source: str


@dataclass(frozen=True)
class LabTestCode:
    test: LabTest
    loinc: str
    display: str
    unit: str
    status: Status
    source: str


@dataclass(frozen=True)
class DrugCode:
    rxcui: str
    tty: str
    display: str
    status: Status
    source: str
    strength_mg: int | None = None


@dataclass(frozen=True)
class Codes:
    diagnoses: tuple[DiagnosisCode, ...]
    pregnancy_tests: tuple[PregnancyTestCode, ...]
    lab_tests: tuple[LabTestCode, ...]
    drugs: tuple[DrugCode, ...]

    def lab_test(self, test: LabTest) -> LabTestCode:
        """Return the code of one monitoring test."""
        return next(code for code in self.lab_tests if code.test == test)

    def capsule_rxcui(self, strength_mg: int) -> str | None:
        """Return the RxNorm clinical drug (SCD) of an isotretinoin capsule of this strength."""
        return next(
            (c.rxcui for c in self.drugs if c.tty == "SCD" and c.strength_mg == strength_mg), None
        )

    def diagnosis(self, slug: str) -> DiagnosisCode:
        """Return the diagnosis with this slug; KeyError names the slugs there are."""
        for code in self.diagnoses:
            if code.slug == slug:
                return code
        known = ", ".join(code.slug for code in self.diagnoses)
        raise KeyError(f"unknown diagnosis {slug!r}; known: {known}")


@cache
def load_codes() -> Codes:
    """Load and validate codes.toml (once per process)."""
    data = read_toml("codes.toml")
    where = "codes.toml"
    unknown_tables = set(data) - {"diagnosis", "pregnancy_test", "lab_test", "drug"}
    if unknown_tables:
        raise KnowledgeError(f"{where}: unknown table {sorted(unknown_tables)[0]!r}")
    codes = Codes(
        diagnoses=entries(data, "diagnosis", DiagnosisCode, where=where),
        pregnancy_tests=entries(data, "pregnancy_test", PregnancyTestCode, where=where),
        lab_tests=entries(data, "lab_test", LabTestCode, where=where),
        drugs=entries(data, "drug", DrugCode, where=where),
    )
    missing = set(LabTest) - {code.test for code in codes.lab_tests}
    if missing:
        raise KnowledgeError(f"{where}: no [[lab_test]] for {sorted(missing)}")
    return codes
