from __future__ import annotations

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running isoguard: backups and restores, and what a request answers when the database is
    out of reach."""

    name = "isoguard.operations"
    label = "operations"
