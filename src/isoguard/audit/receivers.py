"""Log-ins, log-outs and failed log-ins go to the audit trail (Django's auth signals)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.security.lockout import refused_while_locked_out


@receiver(user_logged_in)
def audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action="login", obj=user, request=request)


@receiver(user_logged_out)
def audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(actor=user, action="logout", obj=user, request=request)


@receiver(user_login_failed)
def audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    if refused_while_locked_out(request):
        return  # axes refused it before any password was checked: audited as login_lockout
    audit_record(
        actor=None,
        action="login",
        object_type="accounts.user",
        object_id=str(credentials.get("username", ""))[:40],
        outcome=AuditEvent.Outcome.REFUSED,
        reason="wrong username or password",
        request=request,
    )
