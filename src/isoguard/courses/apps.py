from __future__ import annotations

from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "isoguard.courses"
    label = "courses"

    def ready(self) -> None:
        from isoguard.courses import due

        due.connect()
