"""The audit trail: who did what to which record, when, and whether it was allowed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    class Outcome(models.TextChoices):
        ALLOWED = "allowed", "allowed"
        REFUSED = "refused", "refused"

    # Set when the event is made (not on save), because it is part of the hashed content.
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text as well, so the trail still says who acted after a user is removed.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, help_text="view, create, update, login, ...")
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    # A plain id, not a foreign key: the trail outlives any change to the patient row.
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.ALLOWED)
    reason = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(
        default=dict, blank=True, help_text="e.g. the patient ids a list showed"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    path = models.CharField(max_length=300, blank=True)
    # The hash chain (audit/chain.py): the event's place, the hash before it, and its own hash
    # over its canonical content and `prev_hash`. Null only for events from before the chain.
    seq = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action} "
            f"{self.object_type}:{self.object_id} {self.outcome}"
        )


class AuditChainHead(models.Model):
    """One row: the last event's place and hash. Updating it first in the transaction that
    appends an event serialises appends (a row lock on PostgreSQL, the write lock on SQLite), so
    two requests never chain to the same event."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit chain head: {self.seq} {self.hash[:12]}"
