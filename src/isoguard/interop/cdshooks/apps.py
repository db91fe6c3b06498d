from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


class CdsHooksConfig(AppConfig):
    name = "isoguard.interop.cdshooks"
    label = "cdshooks"
    verbose_name = "CDS Hooks"

    def ready(self) -> None:
        checks.register(issuers_check)


def issuers_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report a malformed ISOGUARD_CDS_ISSUERS (which then trusts no EHR at all)."""
    from isoguard.interop.cdshooks.auth import ConfigError, issuers

    try:
        issuers()
    except ConfigError as error:
        return [checks.Error(f"ISOGUARD_CDS_ISSUERS: {error}", id="cdshooks.E001")]
    return []
