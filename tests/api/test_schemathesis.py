"""schemathesis against /api/v1: generated requests as a logged-in prescriber; no server error.

A bounded number of examples per operation keeps it quick in CI; none may be a 5xx. django-ninja
writes OpenAPI 3.1, which schemathesis 3 reads with its experimental 3.1 support switched on.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

schemathesis.experimental.OPEN_API_3_1.enable()
schema = schemathesis.from_pytest_fixture("api_schema")


@pytest.fixture
def session_cookie(db) -> str:
    from django.test import Client
    from django.utils import timezone

    from isoguard.demo import create_demo

    create_demo(timezone.localdate())
    client = Client()
    assert client.login(username="dr.rivera", password="isoguard-demo")
    return client.cookies["sessionid"].value


@pytest.fixture
def api_schema(session_cookie):
    # As Django's test client does: the request must not close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_makes_a_server_error(case, session_cookie):
    case.headers = {**(case.headers or {}), "Cookie": f"sessionid={session_cookie}"}
    response = case.call()
    case.validate_response(response, checks=(schemathesis.checks.not_a_server_error,))
