"""HTTP for the CDS services: JSON in and out, the EHR's JWT on every call but discovery."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.interop.cdshooks import services
from isoguard.interop.cdshooks.auth import AuthError, Client, authenticate
from isoguard.interop.cdshooks.cards import HookRequest
from isoguard.interop.outcome import FHIR_JSON


def base_url(request: HttpRequest) -> str:
    """isoguard's base URL as the EHR calls it: ISOGUARD_CDS_AUDIENCE, else the request's."""
    return settings.ISOGUARD_CDS_AUDIENCE or request.build_absolute_uri("/").rstrip("/")


def _outcome(status: int, outcome: dict[str, Any]) -> JsonResponse:
    return JsonResponse(outcome, status=status, content_type=FHIR_JSON)


def _client(request: HttpRequest, action: str, object_id: str) -> Client:
    """Authenticate the caller, auditing a refusal (which the view answers with 401)."""
    try:
        return authenticate(request.headers.get("Authorization"), base_url(request) + request.path)
    except AuthError as error:
        audit_record(
            actor=None, action=action, object_type="cdshooks.service", object_id=object_id,
            outcome=AuditEvent.Outcome.REFUSED, reason=f"not authenticated: {error}",
            request=request,
        )  # fmt: skip
        raise


def _unauthorised(error: AuthError) -> JsonResponse:
    response = _outcome(401, services.operation_outcome("login", str(error)))
    response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def _json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise services.HookError(400, "structure", "the body is not JSON") from None


def _service(service_id: str) -> services.Service:
    service = services.SERVICES.get(service_id)
    if service is None:
        raise services.HookError(404, "not-found", f"no CDS service {service_id!r}")
    return service


@require_GET
def discovery(request: HttpRequest) -> JsonResponse:
    """The services, with their hooks and prefetch templates (no patient data: no token needed)."""
    return JsonResponse(services.discovery())


@csrf_exempt
@require_POST
def service(request: HttpRequest, service_id: str) -> JsonResponse:
    try:
        cds = _service(service_id)
        client = _client(request, "cds_hook", service_id)
        hook_request = services.parsed(HookRequest, _json_body(request))
        return JsonResponse(services.invoke(cds, hook_request, client, base_url(request)))
    except AuthError as error:
        return _unauthorised(error)
    except services.HookError as error:
        return _outcome(error.status, error.outcome)


@csrf_exempt
@require_POST
def feedback(request: HttpRequest, service_id: str) -> JsonResponse:
    try:
        cds = _service(service_id)
        client = _client(request, "cds_feedback", service_id)
        rows = services.feedback_store(cds, _json_body(request), client)
        return JsonResponse({"stored": len(rows)})
    except AuthError as error:
        return _unauthorised(error)
    except services.HookError as error:
        return _outcome(error.status, error.outcome)


@require_GET
def etasu(request: HttpRequest, patient_id: int) -> JsonResponse:
    """The REMS IG's `$rems-etasu` idea: is each element to assure safe use met?"""
    try:
        client = _client(request, "rems_etasu", str(patient_id))
        return JsonResponse(services.etasu_status(patient_id, client, base_url(request)))
    except AuthError as error:
        return _unauthorised(error)
    except services.HookError as error:
        return _outcome(error.status, error.outcome)
