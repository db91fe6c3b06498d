"""schemathesis against the FHIR endpoints, from their OpenAPI description (/fhir/R4/openapi.json).

Generated requests as a real system would send them: a prescriber's API token (Bearer) for a
seeded clinic. Each request is sent as generated and, when it names a patient or a resource,
again with the seeded patient's id or a real resource id, so the search filters and reads run on
real data too. A bounded number of examples per operation; none may be a 5xx, and every status
must be one the description documents. Runs on SQLite and, in CI, on PostgreSQL (`make test`).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from tests.conftest import TODAY

schema = schemathesis.from_pytest_fixture("fhir_schema")
CHECKS = (schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance)


@pytest.fixture
def seeded(db) -> dict:
    """The demo clinic; a prescriber's token; Alice's id and one real id of each type."""
    from django.test import Client

    from isoguard.accounts.models import User
    from isoguard.accounts.tokens import token_create
    from isoguard.demo import create_demo
    from isoguard.patients.models import Patient

    create_demo(TODAY)
    _, token = token_create(User.objects.get(username="dr.rivera"), "schemathesis")
    alice = Patient.objects.get(given_name="Alice")
    response = Client().get(
        f"/fhir/R4/Patient/patient-{alice.pk}/$everything", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200
    ids: dict[str, str] = {}
    for entry in response.json()["entry"]:
        ids.setdefault(entry["resource"]["resourceType"], entry["resource"]["id"])
    return {"token": token, "patient": f"patient-{alice.pk}", "ids": ids}


@pytest.fixture
def fhir_schema(seeded):
    # As Django's test client does: the request must not close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/fhir/R4/openapi.json", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _on_seeded_data(case, seeded: dict):
    """The same request within the seeded record, or None when it names no patient or id."""
    path = case.operation.path.removeprefix("/fhir/R4/")
    real = case.partial_deepcopy()
    if real.query and ("patient" in real.query or "subject" in real.query):
        real.query = {**real.query, "patient": seeded["patient"]}
        real.query.pop("subject", None)
        return real
    if real.path_parameters and "id" in real.path_parameters:
        kind = path.split("/", 1)[0]
        resource_id = seeded["ids"].get(kind)
        if resource_id is not None:
            real.path_parameters = {**real.path_parameters, "id": resource_id}
            return real
    return None


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_generated_request_makes_a_server_error(case, seeded):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {seeded['token']}"}
    response = case.call()
    case.validate_response(response, checks=CHECKS)
    real = _on_seeded_data(case, seeded)
    if real is not None:
        response = real.call()
        real.validate_response(response, checks=CHECKS)
