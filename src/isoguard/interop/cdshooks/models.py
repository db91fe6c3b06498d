"""What the EHR told us about the cards it showed: accepted, or overridden and why."""

from __future__ import annotations

from django.db import models


class CardFeedback(models.Model):
    """One feedback entry (CDS Hooks 2.0, section Feedback); a card may be reported repeatedly."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "accepted"
        OVERRIDDEN = "overridden", "overridden"

    service_id = models.CharField(max_length=64)
    card_uuid = models.CharField(max_length=64, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    accepted_suggestions = models.JSONField(default=list, blank=True)
    override_reason = models.JSONField(
        null=True, blank=True, help_text="the reason Coding and the user's comment, as sent"
    )
    outcome_timestamp = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    issuer = models.CharField(max_length=300, help_text="the iss of the EHR's token")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome__in=["accepted", "overridden"]),
                name="card_feedback_outcome_valid",
            )
        ]


class SeenToken(models.Model):
    """A JWT already used (its issuer and jti, hashed), until it expires: a replay is refused.

    In the database, not a per-process cache, so a token replayed to another worker or another
    app server behind the load balancer is refused too."""

    key = models.CharField(max_length=64, unique=True, help_text="sha256 of [iss, jti]")
    expires_at = models.DateTimeField(db_index=True)
