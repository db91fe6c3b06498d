"""Changes made in the admin site go to the audit trail as well as to Django's admin log."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from isoguard.audit.services import audit_record


class AuditedAdminMixin:
    """Mix into a ModelAdmin: every list and form viewed, add, change and delete is audited."""

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        audit_record(
            actor=request.user,
            action="admin_list",
            request=request,
            object_type=self.model._meta.label_lower,
        )  # type: ignore[attr-defined]
        return super().changelist_view(request, extra_context)  # type: ignore[misc]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        audit_record(
            actor=request.user,
            action="admin_view",
            request=request,
            object_type=self.model._meta.label_lower,  # type: ignore[attr-defined]
            object_id=str(object_id),
        )
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]

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
