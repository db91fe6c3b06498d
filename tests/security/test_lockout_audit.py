"""A log-in tried during a lockout is audited as that (`login_lockout`) and nothing else: the
password was not checked, so no "wrong username or password" event may claim it was wrong."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max
from django.test import Client
from django.urls import reverse

from isoguard.audit.models import AuditEvent
from isoguard.security.lockout import refused_while_locked_out

PASSWORD = "a-long-test-password"  # tests/conftest.py make_user


def log_in(client: Client, password: str):
    return client.post(
        reverse("login"), {"username": "alice", "password": password}, REMOTE_ADDR="10.0.0.7"
    )


def events_since(seq: int) -> list[tuple[str, str, str]]:
    return list(
        AuditEvent.objects.filter(seq__gt=seq)
        .order_by("seq")
        .values_list("action", "outcome", "reason")
    )


def last_seq() -> int:
    return AuditEvent.objects.aggregate(last=Max("seq"))["last"] or 0


def test_the_attempt_that_reaches_the_limit_is_a_wrong_password_and_the_lockout(world, client):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "not-the-password")
    before = last_seq()
    assert log_in(client, "not-the-password").status_code == 429
    limit = settings.AXES_FAILURE_LIMIT
    assert sorted(events_since(before)) == [
        ("login", "refused", "wrong username or password"),  # it was checked, and wrong
        ("login_lockout", "refused", f"locked out after {limit} failed log-ins"),
    ]


@pytest.mark.parametrize("password", [PASSWORD, "not-the-password"])
def test_a_try_during_the_lockout_writes_only_the_lockout_event(world, client, password):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "not-the-password")
    before = last_seq()
    response = log_in(client, password)
    assert response.status_code == 429
    assert events_since(before) == [("login_lockout", "refused", "log-in tried while locked out")]


def test_only_a_try_during_the_lockout_counts_as_refused_while_locked_out(world, client):
    """What the failed-login receiver tells apart: the try that reaches the limit had its
    password checked; a try after it did not."""
    seen: list[bool] = []

    def note(sender, credentials, request=None, **kwargs):
        seen.append(refused_while_locked_out(request))

    user_login_failed.connect(note)
    try:
        for _ in range(settings.AXES_FAILURE_LIMIT + 1):
            log_in(client, "not-the-password")
        log_in(client, PASSWORD)
    finally:
        user_login_failed.disconnect(note)
    assert seen == [False] * settings.AXES_FAILURE_LIMIT + [True, True]
