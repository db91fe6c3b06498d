"""Answers that come before or instead of a view: a body too large (413), a lost or locked
database (503, nothing saved).

A lost or locked database: a clear 503 that says nothing was saved, never a half-written record.

Every change is written in one transaction (the services' `transaction.atomic()`), so when the
connection drops or the database stays locked mid-request, the transaction is rolled back and
nothing of it is kept. What is left is to tell the person or system so, in the form they read:
JSON for /api/, an OperationOutcome for /fhir/ and /cds-services, a plain page otherwise. The
next request opens a new connection (CONN_HEALTH_CHECKS).
"""

from __future__ import annotations

import json
import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils.html import escape
from django.views import defaults

from isoguard.interop.outcome import FHIR_JSON, operation_outcome

log = logging.getLogger("isoguard.database")

MESSAGE = (
    "The database could not be reached, so nothing was saved. Try again in a moment; if this "
    "goes on, tell the clinic's administrator."
)


def _page(title: str, message: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>isoguard: '
        f"{escape(title)}</title></head><body><h1>{escape(title)}</h1><p>{escape(message)}</p>"
        '<p><a href="">Try again</a></p></body></html>'
    )


def answer(
    request: HttpRequest, status: int, code: str, fhir_code: str, message: str
) -> HttpResponse:
    """An error in the form the caller reads: JSON on /api/, an OperationOutcome on /fhir/ and the
    CDS services, a plain page otherwise."""
    path = request.path
    if path.startswith("/api/"):
        body = {"error": {"code": code, "message": message, "field": None}}
        return HttpResponse(json.dumps(body), status=status, content_type="application/json")
    if path.startswith(("/fhir/", "/cds-services", "/rems/")):
        outcome = operation_outcome(fhir_code, message)
        return HttpResponse(json.dumps(outcome), status=status, content_type=FHIR_JSON)
    title = "Nothing was saved" if status == 503 else "Not accepted"
    return HttpResponse(
        _page(title, message), status=status, content_type="text/html; charset=utf-8"
    )


class RequestSizeLimitMiddleware:
    """Refuse a request body over the limit before reading it: 413, naming the limit.

    ISOGUARD_MAX_REQUEST_BYTES (1 MB) for every request, ISOGUARD_MAX_IMPORT_BYTES (10 MB) for a
    FHIR transaction (a patient's whole history). Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE)
    would answer an unexplained 400 page instead.
    """

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return answer(request, 400, "invalid", "invalid", "Content-Length is not a number.")
        importing = request.method == "POST" and request.path.rstrip("/") == "/fhir/R4"
        limit = (
            settings.ISOGUARD_MAX_IMPORT_BYTES if importing else settings.ISOGUARD_MAX_REQUEST_BYTES
        )
        if length > limit:
            what = "a FHIR transaction Bundle" if importing else "a request"
            return answer(
                request, 413, "too_large", "too-costly",
                f"The body is {length} bytes; {what} may have at most {limit} bytes. "
                "Send less at once (for an import: one patient per Bundle).",
            )  # fmt: skip
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        log.error("database unavailable on %s %s: %s", request.method, request.path, exception)
        response = answer(request, 503, "database_unavailable", "transient", MESSAGE)
        response["Retry-After"] = "5"
        return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database error raised before any view (the session, the login, the second
    factor read the database in middleware) is the same 503 as one raised in a view."""
    exception = sys.exc_info()[1]
    if isinstance(exception, OperationalError | InterfaceError):
        log.error("database unavailable on %s %s: %s", request.method, request.path, exception)
        response = answer(request, 503, "database_unavailable", "transient", MESSAGE)
        response["Retry-After"] = "5"
        return response
    return defaults.server_error(request)
