from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "isoguard.accounts"
    label = "accounts"
    verbose_name = "Organisations and users"

    def ready(self) -> None:
        from isoguard.audit import receivers  # noqa: F401  (login and logout are audited)
