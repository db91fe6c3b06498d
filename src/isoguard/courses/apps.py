from __future__ import annotations

from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "isoguard.courses"
    label = "courses"
