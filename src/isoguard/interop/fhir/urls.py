"""The FHIR R4 endpoints; mounted at /fhir/R4/ (docs/integration.md)."""

from __future__ import annotations

from django.urls import path

from isoguard.interop.fhir import actors, openapi, views

app_name = "fhir"

urlpatterns = [
    path("", views.transaction_endpoint, name="transaction"),
    path("metadata", views.metadata, name="metadata"),
    path("openapi.json", openapi.openapi_json, name="openapi"),
    path("Patient/<str:resource_id>/$everything", views.everything, name="everything"),
    path("Patient/<str:resource_id>", views.patient_read, name="patient"),
    path(
        "Practitioner/<str:resource_id>",
        actors.actor_read,
        {"resource_type": "Practitioner"},
        name="practitioner",
    ),
    path(
        "Organization/<str:resource_id>",
        actors.actor_read,
        {"resource_type": "Organization"},
        name="organization",
    ),
    path("<str:resource_type>/<str:resource_id>", views.resource_read, name="read"),
    path("<str:resource_type>", views.search, name="search"),
]
