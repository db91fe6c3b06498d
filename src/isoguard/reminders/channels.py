"""Where a reminder goes: an in-app notification, an e-mail, a text message.

Each channel has one method, `send(patient, message)`, and raises on failure: `NoAddress` when
the patient record has no address for it (the delivery is skipped), anything else when sending
failed (the delivery is marked failed with the error). The SMS channel hands the text to the
backend named by ISOGUARD_SMS_BACKEND: any class with `send_sms(to, text)`.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from django.utils.module_loading import import_string

from isoguard.patients.models import Patient
from isoguard.reminders.models import Channel, Notification

logger = logging.getLogger("isoguard.reminders")

EMAIL_SUBJECT = "isoguard reminder"
EMAIL_FOOTER = (
    "\n\nOpen isoguard to see what to do. You can change how and when isoguard reminds you on "
    "its Reminders page."
)


@dataclass(frozen=True)
class Message:
    """What one reminder says: `text` leaves isoguard (e-mail, SMS) and carries no health
    detail; `title` and `body` stay behind the login, in the in-app list."""

    kind: str
    text: str
    title: str
    body: str


class NoAddress(Exception):
    """The patient record has no address for this channel; nothing was sent."""


class SmsBackendError(Exception):
    """ISOGUARD_SMS_BACKEND names nothing that can send a text message."""


class SmsBackend(Protocol):
    def send_sms(self, to: str, text: str) -> None: ...


class ReminderChannel(Protocol):
    name: str
    transactional: bool
    """True when sending is a database write, done in the transaction that marks it sent."""

    def send(self, patient: Patient, message: Message, *, delivery: object = None) -> None: ...


class InAppChannel:
    name = Channel.IN_APP.value
    transactional = True

    def send(self, patient: Patient, message: Message, *, delivery: object = None) -> None:
        Notification.objects.create(
            patient=patient, delivery=delivery, kind=message.kind, title=message.title,
            body=message.body,
            created_at=getattr(delivery, "attempted_at", None) or timezone.now(),
        )  # fmt: skip


class EmailChannel:
    name = Channel.EMAIL.value
    transactional = False

    def send(self, patient: Patient, message: Message, *, delivery: object = None) -> None:
        if not patient.email:
            raise NoAddress("no e-mail address on the patient record")
        send_mail(
            EMAIL_SUBJECT,
            message.text + EMAIL_FOOTER,
            settings.ISOGUARD_REMINDER_FROM,
            [patient.email],
            fail_silently=False,
        )


class SmsChannel:
    name = Channel.SMS.value
    transactional = False

    def __init__(self, backend: SmsBackend | None = None) -> None:
        self.backend = backend

    def send(self, patient: Patient, message: Message, *, delivery: object = None) -> None:
        if not patient.phone:
            raise NoAddress("no phone number on the patient record")
        if self.backend is None:
            # Loaded when first needed: a misconfigured backend fails the text messages only.
            self.backend = sms_backend()
        self.backend.send_sms(patient.phone, message.text)


def sms_backend() -> SmsBackend:
    """Return an instance of the configured SMS backend, or raise SmsBackendError."""
    path = settings.ISOGUARD_SMS_BACKEND
    try:
        backend = import_string(path)()
    except (ImportError, TypeError) as error:
        raise SmsBackendError(f"ISOGUARD_SMS_BACKEND={path!r}: {error}") from None
    if not callable(getattr(backend, "send_sms", None)):
        raise SmsBackendError(f"ISOGUARD_SMS_BACKEND={path!r}: has no send_sms(to, text)")
    return backend  # type: ignore[no-any-return]


def channels() -> dict[str, ReminderChannel]:
    """One instance of each channel, for one run."""
    return {
        Channel.IN_APP.value: InAppChannel(),
        Channel.EMAIL.value: EmailChannel(),
        Channel.SMS.value: SmsChannel(),
    }


class ConsoleSmsBackend:
    """Development: write each text message as one line to stdout and the log; send nothing."""

    def send_sms(self, to: str, text: str) -> None:
        line = f"SMS to {to}: {text}"
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        logger.info(line)


class LocmemSmsBackend:
    """Tests: keep each text message in `outbox`, as Django's locmem mail backend does."""

    outbox: list[tuple[str, str]] = []

    def send_sms(self, to: str, text: str) -> None:
        LocmemSmsBackend.outbox.append((to, text))
