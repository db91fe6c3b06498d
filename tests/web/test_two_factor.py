"""Two-factor login for staff: enrol a TOTP app, then every login asks for its code."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from isoguard.accounts.tokens import token_create
from isoguard.audit.models import AuditEvent

PASSWORD = "a-long-test-password"  # tests/conftest.py make_user
ACCOUNT = "/accounts/security/"
VERIFY = "/accounts/two-factor/"


def code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the person's app shows now (or `steps_ahead` 30-second steps later)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def wrong(device: TOTPDevice) -> str:
    right = code(device)
    return "000000" if right != "000000" else "111111"


def unthrottle(device: TOTPDevice) -> None:
    """Let the throttle's wait (1, 2, 4 ... seconds after a wrong code) pass."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - dt.timedelta(hours=1)
    )


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=True)


def password_login(client: Client, username: str):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD})


def test_a_prescriber_enrols_an_app_from_the_account_page(world, client):
    client.force_login(world.prescriber)
    page = client.get(ACCOUNT).content.decode()
    assert "<strong>Off.</strong>" in page

    client.post(ACCOUNT, {"action": "start"})
    response = client.get(ACCOUNT)
    page = response.content.decode()
    device = TOTPDevice.objects.get(user=world.prescriber, confirmed=False)
    assert "<svg" in page and "<?xml" not in page  # the QR code, inline
    assert "otpauth://totp/isoguard%3Aprescriber?secret=" in page
    assert "no-store" in response["Cache-Control"]  # the page shows the secret

    client.post(ACCOUNT, {"action": "confirm", "token": wrong(device)})
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
    assert AuditEvent.objects.filter(action="two_factor_enrol", outcome="refused").exists()

    unthrottle(device)
    client.post(ACCOUNT, {"action": "confirm", "token": code(device)})
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(
        action="two_factor_enrol", outcome="allowed", actor=world.prescriber
    ).exists()
    # The session that enrolled has proved the code: it carries on.
    assert client.get("/").status_code == 200
    assert "<strong>On.</strong>" in client.get(ACCOUNT).content.decode()


def test_once_enrolled_the_login_asks_for_the_code_before_any_page(world, client):
    device = enrolled(world.prescriber)
    assert password_login(client, "prescriber").status_code == 302

    response = client.get(f"/patients/{world.alice.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"{VERIFY}?next=%2Fpatients%2F{world.alice.pk}%2F"
    assert client.get("/").status_code == 302
    assert client.get("/admin/").status_code == 302
    assert client.get("/api/v1/me").status_code == 401  # the session is no login for the API
    assert client.get(VERIFY).status_code == 200

    response = client.post(VERIFY, {"token": wrong(device), "next": "/"})
    assert response.status_code == 400
    assert "That code is not right" in response.content.decode()
    assert client.get("/").status_code == 302
    refused = AuditEvent.objects.get(action="two_factor_verify", outcome="refused")
    assert refused.actor == world.prescriber and refused.reason == "wrong code"

    unthrottle(device)
    response = client.post(VERIFY, {"token": code(device), "next": f"/patients/{world.alice.pk}/"})
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{world.alice.pk}/"
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    assert AuditEvent.objects.filter(action="two_factor_verify", outcome="allowed").exists()


def test_wrong_codes_slow_down_the_next_tries_even_a_right_one(world, client):
    device = enrolled(world.prescriber)
    password_login(client, "prescriber")
    client.post(VERIFY, {"token": wrong(device)})
    response = client.post(VERIFY, {"token": code(device)})
    assert response.status_code == 400
    assert "Too many wrong codes: try again after" in response.content.decode()
    assert AuditEvent.objects.filter(reason="too many wrong codes").exists()
    unthrottle(device)
    assert client.post(VERIFY, {"token": code(device, steps_ahead=1)}).status_code == 302


def test_a_code_is_used_once(world, client):
    device = enrolled(world.prescriber)
    token = code(device)
    password_login(client, "prescriber")
    assert client.post(VERIFY, {"token": token}).status_code == 302
    other = Client()
    password_login(other, "prescriber")
    assert other.post(VERIFY, {"token": token}).status_code == 400


def test_verify_goes_only_to_addresses_on_this_site(world, client):
    device = enrolled(world.prescriber)
    password_login(client, "prescriber")
    response = client.post(VERIFY, {"token": code(device), "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_a_staff_member_without_a_device_and_a_patient_are_not_asked(world, client):
    client.force_login(world.pharmacist)
    assert client.get("/").status_code == 200
    patient = Client()
    patient.force_login(world.alice_user)
    assert patient.get("/").status_code == 200
    patient.post(ACCOUNT, {"action": "start"})
    assert not TOTPDevice.objects.filter(user=world.alice_user).exists()
    assert "for clinic, pharmacy and administration staff" in patient.get(ACCOUNT).content.decode()


def test_turning_it_off_takes_a_current_code_and_is_audited(world, client):
    device = enrolled(world.staff)
    password_login(client, "staff")
    client.post(VERIFY, {"token": code(device)})

    client.post(ACCOUNT, {"action": "remove", "token": wrong(device)})
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    unthrottle(device)
    client.post(ACCOUNT, {"action": "remove", "token": code(device, steps_ahead=1)})
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    removed = AuditEvent.objects.get(action="two_factor_remove")
    assert removed.actor == world.staff and removed.detail == {"user": "staff"}


def test_an_administrator_removing_a_lost_device_is_audited(world):
    device = enrolled(world.staff)
    device.delete()  # as the admin site's delete does
    assert AuditEvent.objects.filter(action="two_factor_remove", actor=None).exists()


def test_api_tokens_are_not_asked_for_a_second_factor(world):
    enrolled(world.staff)
    _, token = token_create(world.staff, "EHR at Riverside")
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    fhir = Client().get(
        f"/fhir/R4/Patient/patient-{world.alice.pk}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert fhir.status_code == 200


@pytest.fixture
def required(settings):
    settings.ISOGUARD_REQUIRE_2FA_FOR_STAFF = True


def test_required_for_staff_sends_them_to_enrol_first(world, client, required):
    client.force_login(world.prescriber)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == f"{ACCOUNT}?next=%2F"
    page = client.get(ACCOUNT).content.decode()
    assert "Your clinic requires two-factor login" in page
    assert client.get("/api/v1/me").status_code == 401

    client.post(ACCOUNT, {"action": "start", "next": "/"})
    device = TOTPDevice.objects.get(user=world.prescriber)
    response = client.post(ACCOUNT, {"action": "confirm", "token": code(device), "next": "/"})
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    # ... and once required, it cannot be turned off from the account page.
    client.post(ACCOUNT, {"action": "remove", "token": code(device, steps_ahead=1)})
    assert TOTPDevice.objects.filter(pk=device.pk, confirmed=True).exists()


def test_required_for_staff_leaves_patients_and_guardians_alone(world, client, required):
    client.force_login(world.guardian)
    assert client.get("/").status_code == 200
