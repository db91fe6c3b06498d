from __future__ import annotations

from django.apps import AppConfig


class ScreeningsConfig(AppConfig):
    name = "isoguard.screenings"
    label = "screenings"
