"""/api/v1/: who am I, and the patients I may see. OpenAPI at /api/v1/docs.

A person logs in (session cookie, and the CSRF token on a POST); a system sends its API token
(`Authorization: Bearer isoguard_...`, `isoguard token create`) and acts as the token's user, so
the same access rules and audit apply. A token request carries no cookie and needs no CSRF token.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer, django_auth

from isoguard.accounts.tokens import TokenError, TokenThrottled, token_user
from isoguard.api.schemas import (
    DispenseAuthorisationOut,
    DispenseIn,
    DispenseOut,
    ErrorResponse,
    Me,
    PatientSummary,
    ScreeningOut,
    ScreeningRequest,
    SymptomReportIn,
    SymptomReportOut,
)
from isoguard.audit.services import audit_record
from isoguard.core.screening_input import ScreeningInputError
from isoguard.core.vocabulary import Role
from isoguard.courses import report_services
from isoguard.courses.models import Dispense, ProgrammeDecision, SymptomReport
from isoguard.courses.programme_services import dispense_authorisation, dispense_record
from isoguard.patients.access import patient_for, patients_visible_to, require_role
from isoguard.patients.models import Patient
from isoguard.screenings.models import Screening
from isoguard.screenings.services import screening_run


class TokenAuth(HttpBearer):
    """A system's API token; an unknown, revoked or expired one is a 401 (and audited), and any
    token from an address that sent too many refused ones is a 429 (`token_throttle`)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_user(request, token)
        request.user = user
        return user


api = NinjaAPI(
    title="isoguard API",
    version="1",
    urls_namespace="api-v1",
    auth=[TokenAuth(), django_auth],
    description="Isotretinoin treatment records. Every response error has the shape "
    '{"error": {"code", "message", "field"}}: 422 with code `invalid` names the field at fault; '
    "422 with code `refused` is a well-formed request that the record as it stands refuses "
    "(not authorised by the programme, already dispensed, cancelled), with the reasons.",
)
ERRORS: dict[int | tuple[int, ...], Any] = {(401, 403, 404, 422): ErrorResponse}


def error(request: HttpRequest, status: int, code: str, message: str, field: str | None = None):
    return api.create_response(
        request, {"error": {"code": code, "message": message, "field": field}}, status=status
    )


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    # Every body parameter is called `payload`; the field is what comes after it.
    ignored = ("body", "query", "path", "payload")
    location = [str(part) for part in first.get("loc", ()) if part not in ignored]
    field = ".".join(location) or None
    return error(
        request, 422, "invalid", f"{field or 'request'}: {first.get('msg', 'invalid')}", field
    )


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error(
        request,
        401,
        "not_authenticated",
        "Log in first (session cookie), or send an API token (Authorization: Bearer ...).",
    )
    response["WWW-Authenticate"] = 'Bearer realm="isoguard"'
    return response


@api.exception_handler(TokenError)
def on_token_error(request: HttpRequest, exc: TokenError) -> HttpResponse:
    response = error(request, 401, "invalid_token", str(exc))
    response["WWW-Authenticate"] = 'Bearer realm="isoguard", error="invalid_token"'
    return response


@api.exception_handler(TokenThrottled)
def on_token_throttled(request: HttpRequest, exc: TokenThrottled) -> HttpResponse:
    response = error(request, 429, "throttled", str(exc))
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error(request, 403, "forbidden", str(exc) or "You may not do this.")


@api.exception_handler(ScreeningInputError)
def on_screening_input_error(request: HttpRequest, exc: ScreeningInputError) -> HttpResponse:
    return error(request, 422, "invalid", str(exc), exc.field)


@api.exception_handler(DjangoValidationError)
def on_django_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        field, messages = next(iter(exc.message_dict.items()))
        return error(request, 422, "invalid", f"{field}: {messages[0]}", field)
    # No field: the request was well formed but what it asks is refused as things stand (not
    # authorised by the programme, already dispensed, cancelled); the message says why.
    return error(request, 422, "refused", " ".join(exc.messages))


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


def screening_out(screening: Screening) -> dict[str, object]:
    return {
        "id": screening.pk,
        "patient_id": screening.patient_id,
        "as_of": screening.as_of,
        "outcome": screening.outcome,
        "course_id": screening.course_id,
        "result": screening.result,
    }


@api.post(
    "/patients/{patient_id}/screenings",
    response={201: ScreeningOut, **ERRORS},
    summary="Screen a patient for isotretinoin (prescribers)",
)
def screening_create(request: HttpRequest, patient_id: int, payload: ScreeningRequest) -> Status:
    screening = screening_run(
        user=request.user,  # type: ignore[arg-type]
        patient_id=patient_id,
        fields=payload.model_dump(mode="json"),
        request=request,
    )
    return Status(201, screening_out(screening))


@api.get(
    "/screenings/{screening_id}", response={200: ScreeningOut, **ERRORS}, summary="One screening"
)
def screening_detail(request: HttpRequest, screening_id: int) -> dict[str, object]:
    screening = Screening.objects.filter(pk=screening_id).first()
    user = request.user
    if screening is None:
        raise PermissionDenied("You may not see this screening.")
    require_role(user, (Role.PRESCRIBER, Role.CLINIC_STAFF), action="view", obj=screening,  # type: ignore[arg-type]
                 patient_id=screening.patient_id, request=request)  # fmt: skip
    patient_for(user, screening.patient_id, request=request)  # type: ignore[arg-type]
    return screening_out(screening)


def report_out(report: SymptomReport) -> dict[str, object]:
    advice = report_services.report_advice(report)
    return {
        "id": report.pk,
        "patient_id": report.patient_id,
        "submitted_at": report.submitted_at,
        "text": report.text,
        "symptoms": report.checklist,
        "triage_state": report.triage_state,
        "level": report.triage_level or None,
        "concepts": report.concepts,
        "review_state": report.review_state,
        "acknowledged_at": report.acknowledged_at,
        "reviewed_at": report.reviewed_at,
        "review_note": report.review_note,
        "advice": {
            "level": advice.level,
            "urgent": advice.urgent,
            "calls": [{"kind": c.kind, "label": c.label, "number": c.number} for c in advice.calls],
            "headline": advice.headline,
            "tips": list(advice.tips),
            "notes": list(advice.notes),
        },
    }


@api.post(
    "/patients/{patient_id}/symptom-reports",
    response={201: SymptomReportOut, **ERRORS},
    summary="Report a side effect: stored, triaged, and what to do now",
)
def symptom_report_create(
    request: HttpRequest, patient_id: int, payload: SymptomReportIn
) -> Status:
    report = report_services.report_submit(
        user=request.user,  # type: ignore[arg-type]
        patient_id=patient_id,
        text=payload.text,
        ticked=payload.symptoms,
        request=request,
    )
    return Status(201, report_out(report))


@api.get(
    "/symptom-reports/{report_id}",
    response={200: SymptomReportOut, **ERRORS},
    summary="One side-effect report, with its triage and review",
)
def symptom_report_detail(request: HttpRequest, report_id: int) -> dict[str, object]:
    return report_out(report_services.report_for(request.user, report_id, request=request))  # type: ignore[arg-type]


@api.get(
    "/worklist",
    response={200: list[SymptomReportOut], **ERRORS},
    summary="Open reports at call_today and above, most urgent first (clinic staff)",
)
def worklist(request: HttpRequest) -> list[dict[str, object]]:
    user = request.user
    if user.role not in report_services.STAFF_ROLES:  # type: ignore[union-attr]
        audit_record(actor=user, action="list", object_type="courses.symptomreport",
                     outcome="refused", reason="only a prescriber or clinic staff has a worklist",
                     request=request)  # fmt: skip
        raise PermissionDenied("Only a prescriber or clinic staff has a worklist.")
    reports = list(report_services.worklist(user))  # type: ignore[arg-type]
    audit_record(actor=user, action="list", object_type="courses.symptomreport", request=request,
                 detail={"patient_ids": sorted({r.patient_id for r in reports})})  # fmt: skip
    return [report_out(r) for r in reports]


# --- the pharmacy's two steps: ask the programme, then record the fill -------------------------


def authorisation_out(decision: ProgrammeDecision) -> dict[str, object]:
    findings = [
        {**f, "source": f.get("source") or "", "deadline": f.get("deadline")}
        for f in decision.findings
    ]
    return {
        "id": decision.pk, "prescription_id": decision.prescription_id,
        "allowed": decision.allowed, "pack": decision.pack, "dispense_by": decision.dispense_by,
        "as_of": decision.as_of, "findings": findings,
        "unmet": [f["message"] for f in decision.findings if f.get("status") != "met"],
    }  # fmt: skip


@api.post(
    "/prescriptions/{prescription_id}/dispense-authorisations",
    response={201: DispenseAuthorisationOut, **ERRORS},
    summary="Ask whether this prescription may be dispensed now (pharmacists of the pharmacy "
    "it was presented at); the answer, allowed or refused with reasons, is kept and audited",
)
def dispense_authorisation_create(request: HttpRequest, prescription_id: int) -> Status:
    decision = dispense_authorisation(
        user=request.user,  # type: ignore[arg-type]
        prescription_id=prescription_id,
        request=request,
    )
    return Status(201, authorisation_out(decision))


@api.post(
    "/prescriptions/{prescription_id}/dispenses",
    response={201: DispenseOut, **ERRORS},
    summary="Record the fill, once, if the programme allows it now (else 422 with the reasons)",
)
def dispense_create(request: HttpRequest, prescription_id: int, payload: DispenseIn) -> Status:
    dispense: Dispense = dispense_record(
        user=request.user,  # type: ignore[arg-type]
        prescription_id=prescription_id,
        request=request,
        **payload.model_dump(),
    )
    return Status(201, {
        "id": dispense.pk, "prescription_id": dispense.prescription_id,
        "dispensed_on": dispense.dispensed_on, "quantity": dispense.quantity,
        "days_supply": dispense.days_supply, "rma_number": dispense.rma_number,
        "pharmacy": dispense.pharmacy.name,
    })  # fmt: skip
