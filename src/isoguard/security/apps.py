from __future__ import annotations

from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "isoguard.security"
    label = "security"
    verbose_name = "Account security"

    def ready(self) -> None:
        from isoguard.security import receivers  # noqa: F401  (lockouts and 2FA are audited)
