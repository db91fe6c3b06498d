"""Writing to the audit trail. Call these in the same transaction as the change they record:
each event is chained to the one before it there (audit/chain.py)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from isoguard.audit.chain import append
from isoguard.audit.models import AuditEvent
from isoguard.security.lockout import client_ip


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    patient_id: int | None = None,
    outcome: str = AuditEvent.Outcome.ALLOWED,
    reason: str = "",
    request: HttpRequest | None = None,
    object_type: str = "",
    object_id: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit trail and return it."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    event = AuditEvent(
        actor=actor if authenticated else None,
        actor_username=actor.get_username() if authenticated else "",
        action=action,
        object_type=object_type,
        object_id=_text(object_id),
        patient_id=patient_id,
        outcome=outcome,
        reason=_text(reason)[:300],
        detail=detail or {},
        ip_address=client_ip(request) if request is not None else None,
        path=_text(request.path)[:300] if request is not None else "",
    )
    return append(event)


def _text(value: str) -> str:
    """Without NUL characters, which PostgreSQL text cannot hold (a request path may have one)."""
    return value.replace("\x00", "")
