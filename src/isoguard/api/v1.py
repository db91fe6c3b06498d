"""/api/v1/: who am I, and the patients I may see. Session login; OpenAPI at /api/v1/docs."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import django_auth

from isoguard.api.schemas import ErrorResponse, Me, PatientSummary
from isoguard.audit.services import audit_record
from isoguard.patients.access import patient_for, patients_visible_to
from isoguard.patients.models import Patient

api = NinjaAPI(
    title="isoguard API",
    version="1",
    urls_namespace="api-v1",
    auth=django_auth,
    description="Isotretinoin treatment records. Every response error has the shape "
    '{"error": {"code", "message", "field"}}.',
)
ERRORS: dict[int | tuple[int, ...], Any] = {(401, 403, 404, 422): ErrorResponse}


def error(request: HttpRequest, status: int, code: str, message: str, field: str | None = None):
    return api.create_response(
        request, {"error": {"code": code, "message": message, "field": field}}, status=status
    )


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(location) or None
    return error(
        request, 422, "invalid", f"{field or 'request'}: {first.get('msg', 'invalid')}", field
    )


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error(request, 401, "not_authenticated", "Log in first (session cookie).")


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error(request, 403, "forbidden", str(exc) or "You may not do this.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error(request, exc.status_code, "http_error", str(exc))


def summary(patient: Patient) -> dict[str, object]:
    return {
        "id": patient.pk,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "birth_date": patient.birth_date,
        "jurisdiction": patient.jurisdiction,
        "clinic": patient.clinic.name,
    }


@api.get("/me", response={200: Me, **ERRORS}, summary="Who is logged in")
def me(request: HttpRequest) -> dict[str, object]:
    user = request.user
    return {
        "username": user.get_username(),
        "role": user.role,  # type: ignore[union-attr]
        "organisation": user.organisation.name if user.organisation else None,  # type: ignore[union-attr]
    }


@api.get("/patients", response={200: list[PatientSummary], **ERRORS}, summary="Patients I may see")
def patient_list(request: HttpRequest) -> list[dict[str, object]]:
    patients = list(patients_visible_to(request.user).select_related("clinic"))  # type: ignore[arg-type]
    audit_record(
        actor=request.user,
        action="list",
        object_type="patients.patient",
        request=request,
        detail={"patient_ids": [p.pk for p in patients]},
    )
    return [summary(p) for p in patients]


@api.get("/patients/{patient_id}", response={200: PatientSummary, **ERRORS}, summary="One patient")
def patient_detail(request: HttpRequest, patient_id: int) -> dict[str, object]:
    return summary(patient_for(request.user, patient_id, request=request))  # type: ignore[arg-type]
