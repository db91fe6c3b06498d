"""Changes made in the admin site go to the audit trail as well as to Django's admin log."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from isoguard.audit.services import audit_record


class AuditedAdminMixin:
    """Mix into a ModelAdmin: every add, change and delete is audited in the same transaction."""

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        audit_record(actor=request.user, action="create", obj=obj, request=request)
        return super().log_addition(request, obj, message)  # type: ignore[misc]

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        audit_record(
            actor=request.user, action="update", obj=obj, request=request, reason=str(message)[:300]
        )
        return super().log_change(request, obj, message)  # type: ignore[misc]

    def log_deletions(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        for obj in queryset:
            audit_record(actor=request.user, action="delete", obj=obj, request=request)
        return super().log_deletions(request, queryset)  # type: ignore[misc]
