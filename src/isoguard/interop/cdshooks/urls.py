"""Mounted at the site root: discovery is GET /cds-services."""

from __future__ import annotations

from django.urls import path

from isoguard.interop.cdshooks import views

app_name = "cdshooks"

urlpatterns = [
    path("cds-services", views.discovery, name="discovery"),
    path("cds-services/<slug:service_id>", views.service, name="service"),
    path("cds-services/<slug:service_id>/feedback", views.feedback, name="feedback"),
    path("rems/etasu/<int:patient_id>", views.etasu, name="etasu"),
]
