"""Administrators manage organisations and users here. Clinical records are not in the admin."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from isoguard.accounts.models import Organisation, User
from isoguard.audit.admin_audit import AuditedAdminMixin


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "jurisdiction", "phone", "external"]
    list_filter = ["kind", "jurisdiction", "external"]
    search_fields = ["name"]


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "organisation", "is_active"]
    list_filter = ["role", "organisation", "is_active"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("isoguard", {"fields": ("role", "organisation", "phone", "professional_id")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("isoguard", {"fields": ("role", "organisation")}),
    )
