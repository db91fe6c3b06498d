"""schemathesis against /api/v1: generated requests as a prescriber; no server error.

A bounded number of examples per operation keeps it quick in CI; none may be a 5xx. django-ninja
writes OpenAPI 3.1, which schemathesis 3 reads with its experimental 3.1 support switched on.
The prescriber is authenticated by a real API token (Bearer): a session cookie would be replaced by
the `sessionid` cookie schemathesis generates from the session security scheme, and its POSTs
would stop at the CSRF check, so nothing past authentication would run.
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
def api_token(db) -> str:
    from django.utils import timezone

    from isoguard.accounts.models import User
    from isoguard.accounts.tokens import token_create
    from isoguard.demo import create_demo

    create_demo(timezone.localdate())
    return token_create(User.objects.get(username="dr.rivera"), "schemathesis")[1]


@pytest.fixture
def api_schema(api_token):
    # As Django's test client does: the request must not close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_makes_a_server_error(case, api_token):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {api_token}"}
    response = case.call()
    case.validate_response(response, checks=(schemathesis.checks.not_a_server_error,))
