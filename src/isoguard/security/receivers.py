"""Lockouts, unlocks, and two-factor devices removed outside the account page, are audited."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.security.lockout import locked_until


@receiver(user_locked_out)
def audit_lockout(
    sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    """Axes locked `username` out from `ip_address`, or refused a try while it is locked out."""
    failures = getattr(request, "axes_failures_since_start", None)
    until = locked_until(username, ip_address)
    if failures is not None:
        reason = f"locked out after {failures} failed log-ins"
    else:
        reason = "log-in tried while locked out"
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
