"""A stored screening: what the prescriber entered, what the core answered, and its course."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from isoguard.choices import one_of
from isoguard.core.screening import Outcome


class Screening(models.Model):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="screenings"
    )
    course = models.OneToOneField(
        "courses.Course",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="screening",
        help_text="the course started from this screening",
    )
    as_of = models.DateField()
    request = models.JSONField(help_text="the screening request, as isoguard screen reads it")
    result = models.JSONField(help_text="the core's answer: outcome, findings, products")
    outcome = models.CharField(max_length=30, choices=[(o.value, o.value) for o in Outcome])
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    performed_at = models.DateTimeField(auto_now_add=True)
    cautions_acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cautions_acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-performed_at", "-id"]
        constraints = [one_of("outcome", Outcome, name="screening_outcome_valid")]

    def __str__(self) -> str:
        return f"Screening of {self.patient} on {self.as_of}: {self.outcome}"

    @property
    def safe_product_slugs(self) -> list[str]:
        return [p["product"] for p in self.result.get("safe_products", [])]
