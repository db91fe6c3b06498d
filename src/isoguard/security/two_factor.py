"""Two-factor login for staff: a TOTP authenticator app (django-otp), asked for after the password.

A staff member (prescriber, clinic staff, pharmacist, administrator) may enrol one device from
their account page; ISOGUARD_REQUIRE_2FA_FOR_STAFF makes it compulsory. Once a confirmed device
exists, a session is not "verified" until a code from it is entered, and until then no page
opens (`isoguard.security.middleware.TwoFactorMiddleware`). API tokens are not affected.
Enrolment, removal and every code entered (right or wrong) are audited.

Whether the user has a confirmed device is decided at login (one query) and kept in the session
with the user's `two_factor_version`; the middleware reads it from there on every request, so a
page costs no device query. Adding or removing a confirmed device (the account page, the admin
site, any model save or delete) moves the version on, so every session of that user decides again
on its next request: one that has not entered a code from the new device is asked for one.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.core.vocabulary import Role

STAFF_ROLES = frozenset({Role.PRESCRIBER, Role.CLINIC_STAFF, Role.PHARMACIST, Role.ADMINISTRATOR})
DEVICE_NAME = "authenticator app"
# In the session: {"device": whether the user has a confirmed device, "version": the user's
# two_factor_version when that was decided}.
SESSION_KEY = "isoguard_two_factor"


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


def second_step(request: HttpRequest) -> Literal["verify", "enrol"] | None:
    """What the signed-in user must do before any page opens: enter a code ("verify"), set up
    two-factor login ("enrol", when it is required), or nothing (None). Reads the session and the
    user already loaded, not the devices (see `has_device`)."""
    user = request.user
    if not user.is_authenticated or getattr(user, "otp_device", None) is not None:
        return None
    if has_device(request):
        return "verify"
    if required_for(user):
        return "enrol"
    return None


def has_device(request: HttpRequest) -> bool:
    """Whether the signed-in user has a confirmed device, as the session remembers it; decided
    again (`remember`) when the user's two_factor_version has moved on since, or the session has
    no answer yet (one made before this was kept)."""
    known = request.session.get(SESSION_KEY)
    version = getattr(request.user, "two_factor_version", None)
    if isinstance(known, dict) and known.get("version") == version:
        return bool(known.get("device"))
    return remember(request, request.user)


def remember(request: HttpRequest, user: Any) -> bool:
    """Look up whether `user` has a confirmed device and keep the answer in the session. The
    version is read before the devices, so a change between the two is seen again next time."""
    version = getattr(user, "two_factor_version", None)
    device = confirmed_device(user) is not None
    request.session[SESSION_KEY] = {"device": device, "version": version}
    return device


def devices_changed(user_id: int) -> None:
    """A confirmed device of this user was added or removed: move the user's version on, so each
    of their sessions decides again on its next request (an UPDATE of one row, no read)."""
    get_user_model().objects.filter(pk=user_id).update(
        two_factor_version=F("two_factor_version") + 1
    )


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
