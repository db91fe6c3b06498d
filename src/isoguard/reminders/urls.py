"""The patient's reminder pages; include with a prefix, e.g.
`path("notifications/", include("isoguard.reminders.urls"))`."""

from __future__ import annotations

from django.urls import path

from isoguard.web import notification_views as views

app_name = "reminders"

urlpatterns = [
    path("", views.notifications_home, name="home"),
    path("patients/<int:patient_id>/", views.notifications_page, name="notifications"),
    path("patients/<int:patient_id>/read/", views.notifications_read, name="read"),
    path("patients/<int:patient_id>/preferences/", views.preferences_save, name="preferences"),
]
