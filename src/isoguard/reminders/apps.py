from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


class RemindersConfig(AppConfig):
    name = "isoguard.reminders"
    label = "reminders"
    verbose_name = "Reminders"

    def ready(self) -> None:
        checks.register(sms_backend_check)


def sms_backend_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn of an SMS backend that cannot be imported (a typo in the setting).

    A warning, not an error: an error would stop `isoguard remind` altogether, while a broken
    SMS backend should fail the text messages only and let the other channels through."""
    from isoguard.reminders.channels import SmsBackendError, sms_backend

    try:
        sms_backend()
    except SmsBackendError as error:
        return [checks.Warning(str(error), hint="See docs/reminders.md", id="reminders.W001")]
    return []
