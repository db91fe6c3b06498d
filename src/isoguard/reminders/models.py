"""What a patient chose about reminders, the in-app notifications, and every delivery, once.

`ReminderDelivery` is the exactly-once ledger: one row per patient, kind of reminder, occurrence
(`key`) and channel, unique in the database, written before anything is sent
(docs/reminders.md).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone

from isoguard.choices import one_of


class Channel(models.TextChoices):
    IN_APP = "in_app", "in-app notification"
    EMAIL = "email", "e-mail"
    SMS = "sms", "text message (SMS)"


class ReminderKind(models.TextChoices):
    DOSE = "dose", "dose"
    OBLIGATION = "obligation", "treatment step"
    MOOD = "mood", "mood questionnaire"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed"
    SKIPPED = "skipped", "skipped"


DEFAULT_QUIET_START = dt.time(22, 0)
DEFAULT_QUIET_END = dt.time(7, 0)
DEFAULT_MORNING = dt.time(8, 0)
DEFAULT_EVENING = dt.time(20, 0)


class ContactPreference(models.Model):
    """How and when one patient is reminded. The address and number are the patient record's."""

    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.PROTECT, related_name="contact_preference"
    )
    in_app = models.BooleanField(default=True, help_text="a notification in isoguard")
    by_email = models.BooleanField(default=True, help_text="to the e-mail on the patient record")
    by_sms = models.BooleanField(default=False, help_text="to the phone on the patient record")
    quiet_start = models.TimeField(
        null=True, blank=True, default=DEFAULT_QUIET_START, help_text="nothing is sent from..."
    )
    quiet_end = models.TimeField(
        null=True, blank=True, default=DEFAULT_QUIET_END, help_text="...until (local time)"
    )
    dose_reminders = models.BooleanField(default=False)
    morning_time = models.TimeField(default=DEFAULT_MORNING)
    evening_time = models.TimeField(default=DEFAULT_EVENING)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quiet_start__isnull=True, quiet_end__isnull=True)
                | models.Q(quiet_start__isnull=False, quiet_end__isnull=False),
                name="contact_quiet_hours_both_or_neither",
            ),
            models.CheckConstraint(
                condition=models.Q(morning_time__lt=models.F("evening_time")),
                name="contact_morning_before_evening",
            ),
        ]

    def channels(self) -> list[str]:
        """The channels chosen, in the order they are sent."""
        chosen = [(self.in_app, Channel.IN_APP), (self.by_email, Channel.EMAIL),
                  (self.by_sms, Channel.SMS)]  # fmt: skip
        return [channel.value for on, channel in chosen if on]

    def dose_time(self, time: str) -> dt.time:
        return self.morning_time if time == "morning" else self.evening_time

    def is_quiet(self, moment: dt.time) -> bool:
        """Whether `moment` (local time) falls in the quiet hours, which may span midnight."""
        start, end = self.quiet_start, self.quiet_end
        if start is None or end is None or start == end:
            return False
        if start < end:
            return start <= moment < end
        return moment >= start or moment < end


class Notification(models.Model):
    """A reminder in the patient's list in isoguard, behind the login."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="notifications"
    )
    delivery = models.OneToOneField(
        "ReminderDelivery",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notification",
        help_text="the in-app delivery that created it: one notification per delivery",
    )
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "read_at"], name="notification_unread")]
        constraints = [one_of("kind", ReminderKind, name="notification_kind_valid")]


class ReminderDelivery(models.Model):
    """One reminder occurrence on one channel: recorded before sending, so sent at most once."""

    Status = DeliveryStatus

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="reminder_deliveries"
    )
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    key = models.CharField(
        max_length=120,
        help_text="the occurrence, e.g. dose:2026-11-26:morning, "
        "obligation:fill_window_closes:2026-11-26, mood:2026-11-26",
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    due_at = models.DateTimeField()
    expires_at = models.DateTimeField(help_text="the end of the window in which it may be sent")
    created_at = models.DateTimeField(default=timezone.now)
    attempted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="when it was handed to the channel; a pending row with this set is never "
        "retried, as it may have been delivered",
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-due_at", "-id"]
        verbose_name_plural = "reminder deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "kind", "key", "channel"], name="reminder_delivered_once"
            ),
            one_of("kind", ReminderKind, name="reminder_kind_valid"),
            one_of("channel", Channel, name="reminder_channel_valid"),
            one_of("status", DeliveryStatus, name="reminder_status_valid"),
            models.CheckConstraint(
                condition=~models.Q(status="sent") | models.Q(sent_at__isnull=False),
                name="reminder_sent_has_sent_at",
            ),
        ]
        indexes = [models.Index(fields=["status", "attempted_at"], name="reminder_pending")]
