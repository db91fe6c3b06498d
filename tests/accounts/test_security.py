"""Accounts under attack: login lockout, strong passwords, HTTPS settings and security headers."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
import secrets
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from isoguard.accounts.tokens import token_create
from isoguard.audit.models import AuditEvent

PASSWORD = "a-long-test-password"  # tests/conftest.py make_user
SRC = Path(__file__).resolve().parents[2] / "src" / "isoguard"


def log_in(client: Client, username: str, password: str, ip: str = "10.0.0.7"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def fail(client: Client, username: str, times: int, ip: str = "10.0.0.7"):
    response = None
    for _ in range(times):
        response = log_in(client, username, "not-the-password", ip)
    return response


# --- lockout (django-axes) -------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_username_out_from_that_address_with_when_and_who(
    world, client
):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert fail(client, "alice", 4).status_code == 200
    response = fail(client, "alice", 1)

    assert response.status_code == 429
    text = response.content.decode()
    assert "Too many failed log-ins" in text
    until = timezone.localtime(timezone.now() + dt.timedelta(minutes=15))
    assert re.search(r"locked until \d\d:\d\d \(about 1[45] minutes\)", text), text
    assert f"{until:%H}:" in text
    assert "administrator" in text and "unlock" in text
    event = AuditEvent.objects.get(action="login_lockout")
    assert event.outcome == "refused" and event.object_id == "alice"
    assert event.reason == "locked out after 5 failed log-ins"
    assert event.detail["ip_address"] == "10.0.0.7" and event.detail["locked_until"]

    # Now even the right password is refused from there, and that is audited too.
    response = log_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(
        action="login_lockout", reason="log-in tried while locked out"
    ).exists()


def test_the_lockout_is_of_that_username_from_that_address_only(world, client):
    fail(client, "alice", 5)
    assert log_in(client, "bob", PASSWORD).status_code == 302
    assert log_in(Client(), "alice", PASSWORD, ip="10.0.0.8").status_code == 302


def test_a_good_password_before_the_limit_logs_in_and_clears_the_count(world, client):
    fail(client, "alice", 4)
    assert log_in(client, "alice", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    assert fail(client, "alice", 4).status_code == 200  # 4 more: not 8 in a row
    assert log_in(client, "alice", PASSWORD).status_code == 302
    assert not AuditEvent.objects.filter(action="login_lockout").exists()


def test_the_lockout_ends_after_the_cool_off(world, client):
    fail(client, "alice", 5)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        assert log_in(client, "alice", PASSWORD).status_code == 302


def test_the_administrator_unlocks_an_account_with_axes_reset_username(world, client):
    fail(client, "alice", 5)
    assert log_in(client, "alice", PASSWORD).status_code == 429
    call_command("axes_reset_username", "alice", stdout=StringIO())

    assert log_in(client, "alice", PASSWORD).status_code == 302
    event = AuditEvent.objects.get(action="login_unlock")
    assert event.object_id == "alice" and event.detail["ip_address"] == "10.0.0.7"


def test_force_login_still_works_with_axes_first_among_the_backends(world, client):
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    client.force_login(world.prescriber)
    assert client.get("/").status_code == 200


def test_api_tokens_do_not_go_through_the_lockout(world, client):
    from axes.models import AccessAttempt

    _, token = token_create(world.staff, "EHR")
    fail(client, "staff", 5)  # the person is locked out of the login page ...
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200  # ... the system's token is a separate credential
    for _ in range(10):
        bad = Client().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer isoguard_0000abcd_" + "x" * 40)
        assert bad.status_code == 401
    assert AccessAttempt.objects.count() == 1  # only the login page's attempts are counted


# --- passwords ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Short1!pass", "at least 12 characters"),
        ("password1234", "too common"),
        ("839204710382", "entirely numeric"),
        ("prescriber2026", "too similar"),
    ],
)
def test_weak_passwords_are_refused(world, password, why):
    with pytest.raises(ValidationError) as refused:
        validate_password(password, user=world.prescriber)
    assert any(why in message for message in refused.value.messages), refused.value.messages


def test_a_long_uncommon_password_passes(world):
    validate_password("ochre-lantern-quietly-7", user=world.prescriber)


def test_the_demo_password_would_pass_the_validators_too(db):
    from isoguard.demo import DEMO_PASSWORD

    validate_password(DEMO_PASSWORD)


# --- production settings ---------------------------------------------------------------------

PRODUCTION = {
    "ISOGUARD_DEBUG": "0",
    "ISOGUARD_ALLOWED_HOSTS": "clinic.example",
}
SETTING_NAMES = [
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_AGE",
    "SESSION_EXPIRE_AT_BROWSER_CLOSE",
    "X_FRAME_OPTIONS",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "AXES_FAILURE_LIMIT",
]


def clean_environment(tmp_path, **env: str) -> dict[str, str]:
    # Nothing of this shell's or this test run's own (the browser tests set
    # DJANGO_ALLOW_ASYNC_UNSAFE, which the deployment check rightly reports).
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ISOGUARD_", "DJANGO_", "DATABASE_"))
    }
    return {**base, "ISOGUARD_VAR_DIR": str(tmp_path), **env}


def production_settings(tmp_path, **env: str) -> dict[str, str]:
    names = [*SETTING_NAMES, "SECURE_PROXY_SSL_HEADER"]
    code = f"import isoguard.settings as s\nfor n in {names!r}: print(n, repr(getattr(s, n, None)))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=clean_environment(tmp_path, **env),
    )
    assert result.returncode == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines())


def test_with_a_real_host_name_the_https_protections_are_on(tmp_path):
    values = production_settings(tmp_path, **PRODUCTION)
    assert values == {
        "SECURE_SSL_REDIRECT": "True",
        "SESSION_COOKIE_SECURE": "True",
        "CSRF_COOKIE_SECURE": "True",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "True",
        "SECURE_HSTS_PRELOAD": "True",
        "SESSION_COOKIE_HTTPONLY": "True",
        "SESSION_COOKIE_AGE": "28800",
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": "True",
        "X_FRAME_OPTIONS": "'DENY'",
        "SECURE_CONTENT_TYPE_NOSNIFF": "True",
        "SECURE_REFERRER_POLICY": "'same-origin'",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "'same-origin'",
        "AXES_FAILURE_LIMIT": "5",
        "SECURE_PROXY_SSL_HEADER": "None",
    }


def test_make_run_on_this_machine_stays_plain_http(tmp_path):
    values = production_settings(tmp_path)  # ISOGUARD_ALLOWED_HOSTS: 127.0.0.1,localhost
    assert values["SECURE_SSL_REDIRECT"] == "False"
    assert values["SESSION_COOKIE_SECURE"] == "False"
    assert values["SECURE_HSTS_SECONDS"] == "0"
    assert values["X_FRAME_OPTIONS"] == "'DENY'"  # the headers stay on


def test_each_https_setting_can_be_set_alone_and_a_proxy_is_trusted_only_when_named(tmp_path):
    values = production_settings(
        tmp_path,
        **PRODUCTION,
        ISOGUARD_SSL_REDIRECT="0",
        ISOGUARD_HSTS_SECONDS="600",
        ISOGUARD_HSTS_PRELOAD="0",
        ISOGUARD_BEHIND_PROXY="1",
        ISOGUARD_SESSION_HOURS="4",
        ISOGUARD_LOGIN_FAILURE_LIMIT="8",
    )
    assert values["SECURE_SSL_REDIRECT"] == "False"
    assert values["SESSION_COOKIE_SECURE"] == "True"
    assert values["SECURE_HSTS_SECONDS"] == "600"
    assert values["SECURE_HSTS_PRELOAD"] == "False"
    assert values["SECURE_PROXY_SSL_HEADER"] == "('HTTP_X_FORWARDED_PROTO', 'https')"
    assert values["SESSION_COOKIE_AGE"] == str(4 * 3600)
    assert values["AXES_FAILURE_LIMIT"] == "8"
    https_anyway = production_settings(tmp_path, ISOGUARD_HTTPS="1")
    assert https_anyway["SECURE_SSL_REDIRECT"] == "True"
    debug = production_settings(tmp_path, **{**PRODUCTION, "ISOGUARD_DEBUG": "1"})
    assert debug["SECURE_SSL_REDIRECT"] == "False"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ISOGUARD_SESSION_HOURS", "0"),
        ("ISOGUARD_LOGIN_FAILURE_LIMIT", "many"),
        ("ISOGUARD_LOGIN_COOLOFF_MINUTES", "-5"),
        ("ISOGUARD_HSTS_SECONDS", "1.5"),
        ("ISOGUARD_REQUIRE_2FA_FOR_STAFF", "perhaps"),
    ],
)
def test_a_bad_security_setting_is_refused_naming_the_variable(tmp_path, name, value):
    result = subprocess.run(
        [sys.executable, "-c", "import isoguard.settings"],
        capture_output=True,
        text=True,
        env=clean_environment(tmp_path, **{name: value}),
    )
    assert result.returncode != 0
    assert f"{name}={value!r}" in result.stderr


def test_check_deploy_passes_with_the_production_environment(tmp_path):
    env = clean_environment(
        tmp_path,
        **PRODUCTION,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(60),
        DJANGO_SETTINGS_MODULE="isoguard.settings",
    )
    isoguard = str(Path(sys.executable).with_name("isoguard"))
    for command in (
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        [isoguard, "check", "--deploy", "--fail-level", "WARNING"],  # Django's, not the scenarios'
    ):
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "System check identified no issues (0 silenced)." in output
        assert "WARNING" not in output


# --- security headers --------------------------------------------------------------------------


def test_a_page_carries_the_security_headers(world, client):
    client.force_login(world.prescriber)
    response = client.get("/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "Content-Security-Policy" in Client().get(reverse("login"))


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def directive(name: str) -> str:
    return next(d for d in settings.CONTENT_SECURITY_POLICY.split("; ") if d.startswith(name + " "))


def test_every_inline_style_and_handler_in_the_templates_is_allowed_by_its_hash():
    templates = [p for p in SRC.rglob("templates/**/*.html")]
    text = "\n".join(p.read_text() for p in templates)
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", text)
    styles = set(re.findall(r'\sstyle="([^"]*)"', text))
    handlers = set(re.findall(r'\son[a-z]+="([^"]*)"', text))
    assert styles and handlers  # the test finds what it checks
    for style in styles:
        assert csp_hash(style) in directive("style-src"), style
    for handler in handlers:
        assert csp_hash(handler) in directive("script-src"), handler
    # htmx adds its request-indicator <style> at load: its hash is allowed too.
    htmx = next((SRC / "web" / "static").rglob("htmx-*.min.js")).read_text()
    indicator = (
        ".htmx-indicator{opacity:0;visibility: hidden} .htmx-request .htmx-indicator, "
        ".htmx-request.htmx-indicator{opacity:1;visibility: visible;transition: opacity 200ms "
        "ease-in}"
    )
    assert "`.${t}{opacity:0;visibility: hidden} `" in htmx
    assert csp_hash(indicator) in directive("style-src")


def test_a_session_cookie_no_server_could_have_made_is_no_session(client, db):
    """A NUL in the session key was a server error on every page on PostgreSQL."""
    for key in ("\x00abcdefgh", "x" * 500, "ABC!"):
        client.cookies["sessionid"] = key
        assert client.get("/healthz").status_code == 200
        response = client.get("/")
        assert response.status_code in (200, 302)
