"""FHIR R4 (fhir.resources R4B models): the patient's record as resources, and a Bundle read back.

`mapping` turns rows into validated resources and a transaction Bundle back into rows; `views`
serves them at /fhir/R4/ (docs/integration.md).
"""
