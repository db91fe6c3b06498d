"""The audit trail, read-only in the admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from isoguard.audit.admin_audit import AuditedAdminMixin
from isoguard.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["at", "actor_username", "action", "object_type", "object_id", "outcome"]
    list_filter = ["action", "outcome", "object_type"]
    search_fields = ["actor_username", "object_id", "reason"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
