"""The API-token throttle: an address that sends too many refused tokens gets 429s, audited once
per window, until the window ends; the count is in the database, shared by every process."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from isoguard.accounts.models import TokenFailureWindow
from isoguard.accounts.tokens import token_create, token_revoke
from isoguard.audit.chain import verify
from isoguard.audit.models import AuditEvent
from isoguard.security import token_throttle

UNKNOWN = "isoguard_0000abcd_" + "x" * 40
LIMIT = 20  # the defaults: 20 refused tokens within 10 minutes
WINDOW = dt.timedelta(minutes=10)


def api(token: str, ip: str = "10.1.2.3", **headers: str):
    return Client().get(
        "/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=ip, **headers
    )


def fhir(token: str, ip: str = "10.1.2.3"):
    return Client().get("/fhir/R4/metadata", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=ip)


def token_events() -> list[tuple[str, str]]:
    return list(
        AuditEvent.objects.filter(action__startswith="token_")
        .exclude(action="token_create")
        .order_by("seq")
        .values_list("action", "ip_address")
    )


@pytest.fixture
def ehr(world) -> str:
    _, token = token_create(world.staff, "EHR at Riverside")
    return token


def test_the_defaults_are_twenty_refusals_in_ten_minutes():
    assert token_throttle.limit() == LIMIT and token_throttle.window() == WINDOW


def test_past_the_limit_an_address_gets_429s_audited_once_and_others_are_unaffected(world, ehr):
    for _ in range(LIMIT):
        response = api(UNKNOWN)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"
    for _ in range(5):
        response = api(UNKNOWN)
        assert response.status_code == 429, response.content
        assert 0 < int(response["Retry-After"]) <= 600
        error = response.json()["error"]
        assert error["code"] == "throttled" and "Too many refused API tokens" in error["message"]
        assert "a refused token from it is answered 429" in error["message"]

    assert token_events() == [("token_auth", "10.1.2.3")] * LIMIT + [
        ("token_throttled", "10.1.2.3")
    ]
    throttled = AuditEvent.objects.get(action="token_throttled")
    assert throttled.outcome == "refused" and throttled.object_id == "0000abcd"
    assert throttled.detail["failures"] == LIMIT and throttled.detail["window_minutes"] == 10
    assert "20 refused API tokens from this address within 10 minutes" in throttled.reason
    # Another address is not throttled: its bad token is a 401, audited, its good one a 200.
    assert api(UNKNOWN, ip="10.1.2.4").status_code == 401
    assert api(ehr, ip="10.1.2.4").status_code == 200
    assert token_events()[-1] == ("token_auth", "10.1.2.4")
    assert verify().ok


def test_a_valid_token_from_a_throttled_address_still_works(world, ehr):
    """One system retrying a revoked token must not lock out every system behind the same
    address (a proxy, a clinic's network): only refused tokens are throttled."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(LIMIT):
            api(UNKNOWN)
        assert api(ehr).status_code == 200
        response = api(UNKNOWN)
        assert response.status_code == 429 and response["Retry-After"] == "600"
    with time_machine.travel(start + WINDOW - dt.timedelta(seconds=1), tick=False):
        response = api(UNKNOWN)
        assert response.status_code == 429 and response["Retry-After"] == "1"
        assert api(ehr).status_code == 200
    with time_machine.travel(start + WINDOW, tick=False):
        # A new window: bad tokens are 401s, audited, up to the limit again.
        assert api(UNKNOWN).status_code == 401
    assert token_events() == (
        [("token_auth", "10.1.2.3")] * LIMIT
        + [("token_throttled", "10.1.2.3")]
        + [("token_auth", "10.1.2.3")]
    )


def test_each_window_that_is_throttled_is_audited_once(world):
    start = timezone.now()
    for window in range(2):
        with time_machine.travel(start + window * WINDOW, tick=False):
            statuses = [api(UNKNOWN).status_code for _ in range(LIMIT + 3)]
        assert statuses == [401] * LIMIT + [429] * 3
    assert [action for action, _ in token_events()] == 2 * (
        ["token_auth"] * LIMIT + ["token_throttled"]
    )


def test_revoked_expired_and_malformed_tokens_count_alike(world, settings):
    settings.ISOGUARD_TOKEN_FAILURES_LIMIT = 3
    revoked, revoked_text = token_create(world.staff, "old EHR")
    token_revoke(revoked)
    _, expired_text = token_create(world.staff, "trial", days=1)
    with time_machine.travel(timezone.now() + dt.timedelta(days=2)):
        assert api(revoked_text).status_code == 401
        assert api(expired_text).status_code == 401
        assert api("not-a-token").status_code == 401
        assert api(revoked_text).status_code == 429
    reasons = list(
        AuditEvent.objects.filter(action="token_auth").order_by("seq").values_list("reason")
    )
    assert reasons == [
        ("API token revoked",),
        ("API token expired",),
        ("unknown or malformed API token",),
    ]


def test_fhir_answers_the_throttle_with_an_operation_outcome(world, ehr, settings):
    settings.ISOGUARD_TOKEN_FAILURES_LIMIT = 2
    assert fhir(UNKNOWN).status_code == 401
    assert api(UNKNOWN).status_code == 401  # the API and FHIR share the count
    assert fhir(ehr).status_code == 200  # a good token is never throttled
    response = fhir(UNKNOWN)
    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/fhir+json")
    assert int(response["Retry-After"]) > 0
    issue = response.json()["issue"][0]
    assert response.json()["resourceType"] == "OperationOutcome"
    assert issue["code"] == "throttled" and "Too many refused API tokens" in issue["diagnostics"]
    assert [action for action, _ in token_events()] == ["token_auth"] * 2 + ["token_throttled"]


def test_a_session_from_a_throttled_address_is_not_affected(world, settings):
    settings.ISOGUARD_TOKEN_FAILURES_LIMIT = 1
    api(UNKNOWN)
    assert api(UNKNOWN).status_code == 429
    client = Client(REMOTE_ADDR="10.1.2.3")
    client.force_login(world.staff)
    assert client.get("/api/v1/me").status_code == 200


def test_behind_a_proxy_the_address_is_the_one_the_proxy_added(world, settings):
    settings.ISOGUARD_TOKEN_FAILURES_LIMIT = 1
    settings.ISOGUARD_BEHIND_PROXY = True
    proxy = "10.9.9.9"
    assert api(UNKNOWN, ip=proxy, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5").status_code == 401
    # A forged first entry changes nothing: the proxy's own entry is the client.
    assert api(UNKNOWN, ip=proxy, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.5").status_code == 429
    assert api(UNKNOWN, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 401
    assert set(TokenFailureWindow.objects.values_list("address", flat=True)) == {
        "203.0.113.5",
        "203.0.113.6",
    }


def test_a_throttled_flood_only_reads(world, settings):
    from django.test.utils import CaptureQueriesContext

    settings.ISOGUARD_TOKEN_FAILURES_LIMIT = 1
    api(UNKNOWN)
    api(UNKNOWN)  # the throttle starts, and is audited
    with CaptureQueriesContext(connection) as queries:
        assert api(UNKNOWN).status_code == 429
    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    # The token looked up by its prefix, then the address's throttle: no write, no audit event.
    assert statements == ["SELECT", "SELECT"], queries.captured_queries


@pytest.mark.django_db(transaction=True)
def test_refusals_counted_at_once_by_many_threads_are_all_counted():
    start = threading.Barrier(8)
    now = timezone.now()
    errors: list[BaseException] = []

    def count() -> None:
        try:
            start.wait()
            for _ in range(5):
                token_throttle.count_failure("10.7.7.7", now)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert TokenFailureWindow.objects.get(address="10.7.7.7").failures == 40


def test_an_administrator_lifts_a_throttle_at_once_audited(world):
    from django.core.management import CommandError, call_command

    for _ in range(LIMIT + 2):
        api(UNKNOWN)
    assert api(UNKNOWN).status_code == 429
    with pytest.raises(CommandError, match="ADDRESS: 'nowhere' is not an IP address"):
        call_command("token", "unthrottle", "nowhere")
    with pytest.raises(CommandError, match=r"no refused tokens are counted for 10\.9\.9\.9"):
        call_command("token", "unthrottle", "10.9.9.9")
    import io

    out = io.StringIO()
    call_command("token", "unthrottle", " 10.1.2.3 ", stdout=out)
    assert "10.1.2.3 is no longer throttled" in out.getvalue()
    assert f"after {LIMIT} refused tokens" in out.getvalue()  # a throttled one is not counted
    assert api(UNKNOWN).status_code == 401  # counted afresh: refused, not throttled
    lifted = AuditEvent.objects.get(action="token_unthrottle")
    assert (lifted.object_id, lifted.detail) == ("10.1.2.3", {"was_throttled": True})
    assert verify().ok


def test_the_reminder_run_removes_the_windows_that_have_ended(world):
    from django.core.management import call_command

    start = timezone.now()
    api(UNKNOWN, ip="10.0.0.1")
    with time_machine.travel(start + WINDOW - dt.timedelta(minutes=1), tick=False):
        api(UNKNOWN, ip="10.0.0.2")
    with time_machine.travel(start + WINDOW + dt.timedelta(seconds=1), tick=False):
        assert token_throttle.prune(timezone.now()) == 1  # the first window only
        assert set(TokenFailureWindow.objects.values_list("address", flat=True)) == {"10.0.0.2"}
    with time_machine.travel(start + 3 * WINDOW, tick=False):
        import io

        out = io.StringIO()
        call_command("remind", stdout=out)
        assert "ended token-throttle windows removed: 1" in out.getvalue()
    assert not TokenFailureWindow.objects.exists()


def test_a_failing_upkeep_step_of_the_reminder_run_is_reported_and_the_next_still_runs(
    world, monkeypatch
):
    import io

    from django.core.management import call_command

    from isoguard.reminders.management.commands import remind

    def broken(now):
        raise RuntimeError("worklist down")

    monkeypatch.setattr(remind, "refresh_stale", broken)
    out = io.StringIO()
    call_command("remind", stdout=out)
    assert "; worklist rows worked out again: failed (see the log)" in out.getvalue()
    assert "; ended token-throttle windows removed: 0" in out.getvalue()
