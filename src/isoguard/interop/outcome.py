"""What the FHIR API and the CDS Hooks service share: an OperationOutcome and the code systems."""

from __future__ import annotations

from typing import Any

FHIR_JSON = "application/fhir+json"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"


def operation_outcome(
    code: str, message: str, expression: str | None = None, *, severity: str = "error"
) -> dict[str, Any]:
    """An OperationOutcome with one issue (FHIR R4 issue-type `code`, e.g. "required")."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}
