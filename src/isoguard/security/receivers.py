"""Lockouts, unlocks, and two-factor devices removed outside the account page, are audited; a
login, and a confirmed device added or removed, decide what the user's sessions ask for."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.security import two_factor
from isoguard.security.lockout import locked_until, refused_while_locked_out


@receiver(user_locked_out)
def audit_lockout(
    sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    """Axes locked `username` out from `ip_address`, or refused a try while it is locked out."""
    failures = getattr(request, "axes_failures_since_start", None)
    until = locked_until(username, ip_address)
    if refused_while_locked_out(request):
        reason = "log-in tried while locked out"
    else:
        reason = f"locked out after {failures} failed log-ins"
    audit_record(
        actor=None,
        action="login_lockout",
        object_type="accounts.user",
        object_id=str(username or "")[:40],
        outcome=AuditEvent.Outcome.REFUSED,
        reason=reason,
        request=request,
        detail={
            "username": username or "",
            "ip_address": ip_address,
            "locked_until": until.isoformat() if until is not None else None,
            "failures": failures,
        },
    )


@receiver(post_delete, sender=AccessAttempt)
def audit_unlock(sender: Any, instance: AccessAttempt, **kwargs: Any) -> None:
    """A lockout ended before its time (`isoguard axes_reset_username`, the admin site)."""
    cool_off = get_cool_off()
    still_locked = (
        instance.failures_since_start >= settings.AXES_FAILURE_LIMIT
        and cool_off is not None
        and instance.attempt_time + cool_off > timezone.now()
    )
    if still_locked:
        audit_record(
            actor=None,
            action="login_unlock",
            object_type="accounts.user",
            object_id=str(instance.username or "")[:40],
            reason="lockout removed before it ended",
            detail={"username": instance.username or "", "ip_address": instance.ip_address},
        )


@receiver(post_delete, sender=TOTPDevice)
def audit_device_removed(sender: Any, instance: TOTPDevice, **kwargs: Any) -> None:
    """A confirmed device removed other than from the account page (the admin site, a shell)."""
    if instance.confirmed and not getattr(instance, "_isoguard_audited", False):
        audit_record(
            actor=None,
            action="two_factor_remove",
            obj=instance,
            detail={"user_id": instance.user_id},
        )


@receiver(user_logged_in)
def decide_second_step(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Look up once, at login, whether the user has a device; requests read it from the session."""
    if request is not None and hasattr(request, "session"):
        two_factor.remember(request, user)


@receiver(pre_save, sender=TOTPDevice)
def note_confirmed(
    sender: Any, instance: TOTPDevice, update_fields: Any = None, **kwargs: Any
) -> None:
    """Whether the device is confirmed in the database before this save, to tell a save that
    changes it (enrolment, the admin site's checkbox) from the saves django-otp makes at every
    code (its counters). Read from the row, not remembered from the load, which may be stale."""
    if update_fields is not None and "confirmed" not in update_fields:
        before = instance.confirmed  # this save does not write it
    elif instance._state.adding:
        before = False
    else:
        rows = TOTPDevice.objects.filter(pk=instance.pk).values_list("confirmed", flat=True)
        before = bool(rows.first())
    instance._isoguard_was_confirmed = before  # type: ignore[attr-defined]


@receiver(post_save, sender=TOTPDevice)
def device_saved(sender: Any, instance: TOTPDevice, **kwargs: Any) -> None:
    """A device confirmed (enrolment, the admin site) or unconfirmed: the user's sessions must
    decide again, so one elsewhere is asked for a code from it."""
    if getattr(instance, "_isoguard_was_confirmed", None) != instance.confirmed:
        two_factor.devices_changed(instance.user_id)


@receiver(post_delete, sender=TOTPDevice)
def device_deleted(sender: Any, instance: TOTPDevice, **kwargs: Any) -> None:
    """A confirmed device removed (the account page, the admin site, a lost phone)."""
    if instance.confirmed:
        two_factor.devices_changed(instance.user_id)
