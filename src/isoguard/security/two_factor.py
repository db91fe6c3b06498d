"""Two-factor login for staff: a TOTP authenticator app (django-otp), asked for after the password.

A staff member (prescriber, clinic staff, pharmacist, administrator) may enrol one device from
their account page; ISOGUARD_REQUIRE_2FA_FOR_STAFF makes it compulsory. Once a confirmed device
exists, a session is not "verified" until a code from it is entered, and until then no page
opens (`isoguard.security.middleware.TwoFactorMiddleware`). API tokens are not affected.
Enrolment, removal and every code entered (right or wrong) are audited.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.core.vocabulary import Role

STAFF_ROLES = frozenset({Role.PRESCRIBER, Role.CLINIC_STAFF, Role.PHARMACIST, Role.ADMINISTRATOR})
DEVICE_NAME = "authenticator app"


def is_staff_role(user: Any) -> bool:
    return getattr(user, "role", None) in STAFF_ROLES


def required_for(user: Any) -> bool:
    """Whether this user must log in with a second factor (ISOGUARD_REQUIRE_2FA_FOR_STAFF)."""
    return bool(settings.ISOGUARD_REQUIRE_2FA_FOR_STAFF) and is_staff_role(user)


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("pk").first()


def pending_device(user: Any) -> TOTPDevice | None:
    """The device being enrolled: made, not yet confirmed with a first code."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-pk").first()


def second_step(user: Any) -> Literal["verify", "enrol"] | None:
    """What a signed-in user must do before any page opens: enter a code ("verify"), set up
    two-factor login ("enrol", when it is required), or nothing (None)."""
    if not user.is_authenticated or getattr(user, "otp_device", None) is not None:
        return None
    if confirmed_device(user) is not None:
        return "verify"
    if required_for(user):
        return "enrol"
    return None


def clean_token(raw: str) -> str:
    """The code as typed, without the spaces and dashes some apps show in it."""
    return "".join(ch for ch in raw if ch not in " -\t")[:12]


def enrolment_start(user: Any, request: HttpRequest) -> TOTPDevice:
    """Make a new unconfirmed device (dropping an earlier unconfirmed one) for `user`."""
    if not is_staff_role(user):
        raise PermissionError("Two-factor login is for clinic, pharmacy and administration staff.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def enrolment_cancel(user: Any) -> None:
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()


def enrolment_confirm(user: Any, token: str, request: HttpRequest) -> TOTPDevice | None:
    """Confirm the pending device with its first code; return it, or None if the code is wrong."""
    device = pending_device(user)
    if device is None:
        return None
    if confirmed_device(user) is not None:  # one device per person
        return None
    accepted = verify_token(user, device.persistent_id, clean_token(token))
    if accepted is None:
        audit_record(
            actor=user,
            action="two_factor_enrol",
            obj=device,
            outcome=AuditEvent.Outcome.REFUSED,
            reason="the first code was wrong",
            request=request,
        )
        return None
    accepted.confirmed = True
    accepted.save(update_fields=["confirmed"])
    audit_record(actor=user, action="two_factor_enrol", obj=accepted, request=request)
    return accepted


def check_code(user: Any, device: TOTPDevice, token: str, request: HttpRequest) -> str | None:
    """Check a code against `device`: None if it is right, else why not (shown to the user).
    Each try is audited (`two_factor_verify`). After a wrong code the next try must wait 1, 2, 4,
    8 ... seconds (django-otp's throttling), so codes cannot be guessed."""
    device.refresh_from_db()
    allowed, info = device.verify_is_allowed()
    if allowed and verify_token(user, device.persistent_id, clean_token(token)) is not None:
        audit_record(actor=user, action="two_factor_verify", obj=device, request=request)
        return None
    if allowed:
        reason = "wrong code"
        problem = "That code is not right. Enter the 6-digit code your authenticator app shows now."
    else:
        reason = "too many wrong codes"
        until = timezone.localtime((info or {}).get("locked_until") or timezone.now())
        problem = (
            f"Too many wrong codes: try again after {until:%H:%M:%S}. If your phone is lost, ask "
            "your clinic's isoguard administrator to remove your two-factor device."
        )
    device.refresh_from_db()
    audit_record(
        actor=user,
        action="two_factor_verify",
        obj=device,
        outcome=AuditEvent.Outcome.REFUSED,
        reason=reason,
        request=request,
        detail={"failures": device.throttling_failure_count},
    )
    return problem


def device_remove(user: Any, device: TOTPDevice, request: HttpRequest, actor: Any) -> None:
    """Remove `user`'s device (audited as `two_factor_remove`)."""
    device._isoguard_audited = True  # type: ignore[attr-defined]
    audit_record(
        actor=actor,
        action="two_factor_remove",
        obj=device,
        request=request,
        detail={"user": user.get_username()},
    )
    device.delete()


def secret_text(device: TOTPDevice) -> str:
    """The key as an authenticator app takes it when typed in: base32, in groups of four."""
    key = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def qr_svg(text: str) -> str:
    """`text` as a QR code, an inline <svg> element (no image library needed)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
    svg: str = image.to_string(encoding="unicode")
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg
