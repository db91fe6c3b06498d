"""The FHIR R4 endpoints: metadata, read, search, $everything, transaction import, openapi.json.

A person logs in (session cookie; a POST also needs the CSRF token); a system sends an API token
(`Authorization: Bearer isoguard_...`, `isoguard.accounts.tokens`) and acts as the token's user,
without CSRF. Every read goes through `patient_for`, which audits it; a pharmacist gets only the
prescriptions presented at their pharmacy and their fills. Errors are OperationOutcomes: 401 not
logged in or a bad token, 403 not allowed, 404 unknown, 400 invalid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from isoguard.accounts.models import Organisation, User
from isoguard.accounts.tokens import (
    TokenError,
    TokenThrottled,
    bearer,
    is_token_request,
    token_user,
)
from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.core.vocabulary import Role
from isoguard.courses.models import (
    Consent,
    Course,
    Dispense,
    LabResult,
    MonthlyCheck,
    MoodAssessment,
    PregnancyTest,
    Prescription,
    ProgrammeDecision,
)
from isoguard.interop.fhir import importer, mapping
from isoguard.interop.fhir import search as fhir_search
from isoguard.interop.outcome import FHIR_JSON
from isoguard.interop.outcome import operation_outcome as shared_outcome
from isoguard.patients.access import (
    patient_for,
    pharmacy_prescriptions,
    refuse_patient,
    require_role,
)
from isoguard.patients.models import Allergy, Diagnosis, Patient

# The types searchable by `patient`, and those a pharmacist may see (architecture.md).
SEARCHABLE = (
    "Condition",
    "AllergyIntolerance",
    "CarePlan",
    "Observation",
    "MedicationRequest",
    "MedicationDispense",
    "Consent",
    "QuestionnaireResponse",
    "DetectedIssue",
)
# Read only, by those whose records refer to them (interop/fhir/actors.py); id prefix of each.
ACTORS = {"Practitioner": "practitioner", "Organization": "org"}
PHARMACIST_TYPES = (
    "Patient",
    "Organization",
    "Practitioner",
    "MedicationRequest",
    "MedicationDispense",
)
# The id prefix of each resource type, as the mapping writes it.
ID_PREFIXES = {
    "Patient": ("patient",),
    "MedicationRequest": ("rx",),
    "MedicationDispense": ("dispense",),
    "Observation": ("pregnancy-test", "lab"),
    "Consent": ("consent",),
    "QuestionnaireResponse": ("mood", "monthly"),
    "Condition": ("condition",),
    "AllergyIntolerance": ("allergy",),
    "CarePlan": ("course",),
    "DetectedIssue": ("issue",),
}
IMPORT_ROLES = (Role.PRESCRIBER, Role.CLINIC_STAFF)
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
}


class FhirError(Exception):
    def __init__(self, status: int, message: str, expression: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.expression = status, message, expression


def fhir_response(data: dict[str, Any], status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(data), status=status, content_type=f"{FHIR_JSON}; charset=utf-8")


def operation_outcome(status: int, message: str, expression: str | None = None) -> HttpResponse:
    outcome = shared_outcome(ISSUE_CODES.get(status, "processing"), message, expression)
    response = fhir_response(outcome, status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="isoguard"'
    return response


def fhir_view(
    methods: tuple[str, ...], *, anonymous: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Check the method and the login, and turn every refusal into an OperationOutcome."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = operation_outcome(405, f"{request.method} is not supported here")
                response["Allow"] = ", ".join(methods)
                return response
            token = bearer(request)
            if token is not None:
                try:
                    request.user = token_user(request, token)
                except TokenThrottled as error:  # too many refused tokens from this address
                    response = fhir_response(shared_outcome("throttled", str(error)), 429)
                    response["Retry-After"] = str(error.retry_after)
                    return response
                except TokenError as error:
                    response = operation_outcome(401, str(error))
                    response["WWW-Authenticate"] = 'Bearer realm="isoguard", error="invalid_token"'
                    return response
            if not anonymous and not request.user.is_authenticated:
                return operation_outcome(
                    401,
                    "Log in first (session cookie), or send an API token (Authorization: "
                    "Bearer ...).",
                )
            try:
                return view(request, *args, **kwargs)
            except FhirError as error:
                return operation_outcome(error.status, error.message, error.expression)
            except PermissionDenied as error:
                return operation_outcome(403, str(error) or "You may not do this.")
            except Http404 as error:
                return operation_outcome(404, str(error) or "Unknown resource.")

        return wrapped

    return decorate


# --- what one user may see of one patient -------------------------------------------------------


def id_number(raw: str, prefix: str = "patient") -> int:
    """`patient-12`, `Patient/patient-12` or `12` as 12; anything else is unknown."""
    match = re.fullmatch(rf"(?:Patient/)?(?:{re.escape(prefix)}-)?(\d{{1,12}})", raw.strip())
    if match is None:
        raise Http404(f"Unknown id {raw!r}.")
    return int(match.group(1))


def _patient(request: HttpRequest, raw_id: str, action: str) -> Patient:
    """The patient if the user may see them (audited by patient_for); 404 if there is none."""
    pk = id_number(raw_id)
    try:
        return patient_for(request.user, pk, request=request, action=action)  # type: ignore[arg-type]
    except PermissionDenied:
        if not Patient.objects.filter(pk=pk).exists():
            raise Http404(f"No Patient/patient-{pk}.") from None
        raise


def _refuse_type(request: HttpRequest, resource_type: str, patient_id: int, action: str) -> None:
    """A pharmacist sees prescriptions and fills only; refuse (and audit) anything else."""
    user = request.user
    if getattr(user, "role", None) != Role.PHARMACIST or resource_type in PHARMACIST_TYPES:
        return
    refuse_patient(
        user,  # type: ignore[arg-type]
        patient_id,
        action=action,
        request=request,
        reason=f"a pharmacist may not see {resource_type} resources",
        message=f"A pharmacist sees prescriptions and fills only, not {resource_type}.",
    )


def _prescriptions(
    user: User,
    patient: Patient,
    narrow: Callable[[Any, str], Any] | None = None,
    prefix: str = "rx",
) -> list[Prescription]:
    rxs = Prescription.objects.filter(course__patient=patient)
    if narrow is not None:
        rxs = narrow(rxs, prefix)
    if user.role == Role.PHARMACIST:
        rxs = rxs.filter(pk__in=pharmacy_prescriptions(user.organisation_id).values("pk"))
    return list(
        rxs.select_related(
            "course__patient",
            "prescriber",
            "pharmacy",
            "dispense__pharmacist",
            "dispense__pharmacy",
        )
        .prefetch_related("decisions", "course__dose_plans")
        .order_by("written_on", "pk")
    )


def _resources(
    user: User,
    patient: Patient,
    resource_type: str,
    only: tuple[str, int] | None = None,
    rxs: list[Prescription] | None = None,
) -> list[dict[str, Any]]:
    """The resources of one type the user may see for this patient, oldest first.

    `only` = (id prefix, primary key) builds just that one (a read), with the same rules;
    `rxs`, the user's prescriptions of the patient when the caller has them already."""
    if user.role == Role.PHARMACIST and resource_type not in PHARMACIST_TYPES:
        return []

    def narrow(rows: Any, prefix: str, key: str = "pk") -> Any:
        if only is None:
            return rows
        return rows.filter(**{key: only[1]}) if only[0] == prefix else rows.none()

    match resource_type:
        case "Patient":
            return [mapping.patient_resource(patient)]
        case "MedicationRequest":
            if rxs is None or only is not None:
                rxs = _prescriptions(user, patient, narrow)
            return [mapping.medication_request_resource(rx) for rx in rxs]
        case "MedicationDispense":
            dispensed = (
                rxs
                if rxs is not None and only is None
                else _prescriptions(
                    user, patient, lambda rows, _: narrow(rows, "dispense", "dispense__pk")
                )
            )
            rxs = [rx for rx in dispensed if hasattr(rx, "dispense")]
            return [mapping.medication_dispense_resource(rx.dispense) for rx in rxs]
        case "Observation":
            tests = narrow(PregnancyTest.objects.filter(patient=patient), "pregnancy-test")
            labs = narrow(LabResult.objects.filter(patient=patient), "lab")
            return [
                mapping.pregnancy_test_resource(t) for t in tests.order_by("specimen_date", "pk")
            ] + [mapping.lab_resource(lab) for lab in labs.order_by("taken_on", "pk")]
        case "Consent":
            consents = narrow(Consent.objects.filter(course__patient=patient), "consent")
            consents = consents.select_related("course__patient").order_by("signed_on", "pk")
            return [mapping.consent_resource(c) for c in consents]
        case "QuestionnaireResponse":
            moods = narrow(MoodAssessment.objects.filter(patient=patient), "mood")
            checks = narrow(MonthlyCheck.objects.filter(course__patient=patient), "monthly")
            return [
                mapping.questionnaire_response_resource(m)
                for m in moods.order_by("assessed_on", "pk")
            ] + [
                mapping.monthly_check_resource(c)
                for c in checks.select_related("course").order_by("done_on", "pk")
            ]
        case "Condition":
            diagnoses = narrow(patient.diagnoses.all(), "condition")
            return [mapping.condition_resource(d) for d in diagnoses.order_by("recorded_on", "pk")]
        case "AllergyIntolerance":
            allergies = narrow(patient.allergies.all(), "allergy")
            return [
                mapping.allergy_intolerance_resource(a)
                for a in allergies.order_by("recorded_on", "pk")
            ]
        case "CarePlan":
            courses = narrow(patient.courses.all(), "course")
            return [mapping.care_plan_resource(c) for c in courses.order_by("number")]
        case "DetectedIssue":
            decisions = narrow(ProgrammeDecision.objects.filter(course__patient=patient), "issue")
            return [
                issue
                for decision in decisions.select_related("course").order_by("as_of", "pk")
                for issue in mapping.detected_issue_resources(decision)
            ]
    return []


def _actors(user: User, patient: Patient, rxs: list[Prescription]) -> list[dict[str, Any]]:
    """The organisations and practitioners the patient's visible resources refer to."""
    organisations: dict[int, Organisation] = {patient.clinic_id: patient.clinic}
    people: dict[int, User] = {}
    if user.role != Role.PHARMACIST:  # the prescriber of each course (CarePlan.author)
        for course in patient.courses.select_related("prescriber"):
            people[course.prescriber_id] = course.prescriber
    for rx in rxs:
        people[rx.prescriber_id] = rx.prescriber
        if rx.pharmacy is not None:
            organisations[rx.pharmacy.pk] = rx.pharmacy
        if hasattr(rx, "dispense"):
            dispense = rx.dispense
            people[dispense.pharmacist_id] = dispense.pharmacist
            organisations[dispense.pharmacy_id] = dispense.pharmacy
    return [mapping.organization_resource(o) for _, o in sorted(organisations.items())] + [
        mapping.practitioner_resource(p) for _, p in sorted(people.items())
    ]


# --- the endpoints ------------------------------------------------------------------------------


SECURITY_DOCUMENTATION = (
    "A system (an EHR, a lab feed) sends an API token, `Authorization: Bearer "
    "isoguard_<prefix>_<secret>`, made by the clinic's administrator with `isoguard token create "
    "--user USERNAME --name NAME`; it acts as that user, whose role decides what it may see, and "
    "needs no CSRF token. A person logs in at /accounts/login/ and sends the session cookie (and "
    "the X-CSRFToken header on a POST). Every read and every refusal is audited. Search: see each "
    "type's searchParam; paging with _count and _offset and the Bundle's links. OpenAPI: "
    "openapi.json."
)


@fhir_view(("GET",), anonymous=True)
def metadata(request: HttpRequest) -> HttpResponse:
    """The CapabilityStatement: what this server does."""
    resources: list[dict[str, Any]] = [
        {
            "type": "Patient",
            "interaction": [{"code": "read"}],
            "operation": [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                }
            ],
        }
    ]
    resources += [
        {
            "type": t,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": fhir_search.capability(t),
        }
        for t in SEARCHABLE
    ]
    resources += [{"type": t, "interaction": [{"code": "read"}]} for t in ACTORS]
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": timezone.now().date().isoformat(),
        "publisher": "isoguard",
        "kind": "instance",
        "software": {"name": "isoguard"},
        "implementation": {
            "description": "isoguard FHIR R4 endpoint",
            "url": request.build_absolute_uri("./"),
        },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": SECURITY_DOCUMENTATION,
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "urn:isoguard:security-service",
                                    "code": "api-token",
                                    "display": "API token (HTTP Bearer)",
                                }
                            ],
                            "text": "API token: Authorization: Bearer isoguard_<prefix>_<secret>",
                        },
                        {"text": "Session cookie (log in at /accounts/login/)"},
                    ],
                    "description": SECURITY_DOCUMENTATION,
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}],
            }
        ],
    }
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    return fhir_response(CapabilityStatement.model_validate(statement).model_dump(mode="json"))


@fhir_view(("GET",))
def patient_read(request: HttpRequest, resource_id: str) -> HttpResponse:
    patient = _patient(request, resource_id, "fhir_read")
    return fhir_response(mapping.patient_resource(patient))


@fhir_view(("GET",))
def resource_read(request: HttpRequest, resource_type: str, resource_id: str) -> HttpResponse:
    """Read one resource of a patient-compartment type, e.g. `MedicationRequest/rx-34`."""
    if resource_type not in SEARCHABLE:
        raise FhirError(404, f"Unknown resource type {resource_type!r}.")
    patient_id = _owner(resource_type, resource_id)
    _refuse_type(request, resource_type, patient_id, "fhir_read")
    patient = _patient(request, str(patient_id), "fhir_read")
    prefix, pk = re.fullmatch(r"([a-z-]+)-(\d+).*", resource_id).groups()  # type: ignore[union-attr]
    only = (prefix, int(pk))
    for resource in _resources(request.user, patient, resource_type, only):  # type: ignore[arg-type]
        if resource["id"] == resource_id:
            return fhir_response(resource)
    raise Http404(f"No {resource_type}/{resource_id}.")


def _owner(resource_type: str, resource_id: str) -> int:
    """The patient id of one resource, or 404."""
    match = re.fullmatch(r"([a-z-]+)-(\d{1,12})(?:-\d{1,4})?", resource_id)
    if match is None or match.group(1) not in ID_PREFIXES[resource_type]:
        raise Http404(f"No {resource_type}/{resource_id}.")
    prefix, pk = match.group(1), int(match.group(2))
    lookups = {
        "rx": Prescription.objects.filter(pk=pk).values_list("course__patient_id", flat=True),
        "dispense": Dispense.objects.filter(pk=pk).values_list(
            "prescription__course__patient_id", flat=True
        ),
        "pregnancy-test": PregnancyTest.objects.filter(pk=pk).values_list("patient_id", flat=True),
        "lab": LabResult.objects.filter(pk=pk).values_list("patient_id", flat=True),
        "consent": Consent.objects.filter(pk=pk).values_list("course__patient_id", flat=True),
        "mood": MoodAssessment.objects.filter(pk=pk).values_list("patient_id", flat=True),
        "monthly": MonthlyCheck.objects.filter(pk=pk).values_list("course__patient_id", flat=True),
        "condition": Diagnosis.objects.filter(pk=pk).values_list("patient_id", flat=True),
        "allergy": Allergy.objects.filter(pk=pk).values_list("patient_id", flat=True),
        "course": Course.objects.filter(pk=pk).values_list("patient_id", flat=True),
        "issue": ProgrammeDecision.objects.filter(pk=pk).values_list(
            "course__patient_id", flat=True
        ),
    }
    owner = lookups[prefix].first()
    if owner is None:
        raise Http404(f"No {resource_type}/{resource_id}.")
    return owner


@fhir_view(("GET",))
def search(request: HttpRequest, resource_type: str) -> HttpResponse:
    """`GET {type}?patient=patient-12&...`: a page of what the user may see, as a searchset.

    The patient's resources of the type are built by `_resources` (the access rules hold), then
    filtered, sorted and paged in Python by `search.py` (see there for the parameters).
    """
    if resource_type not in SEARCHABLE:
        raise FhirError(404, f"Search on {resource_type!r} is not supported.")
    try:
        query = fhir_search.parse(resource_type, request.GET)
    except fhir_search.SearchError as error:
        raise FhirError(400, str(error), error.param) from None
    patient_id = id_number(query.patient)
    _refuse_type(request, resource_type, patient_id, "fhir_search")
    patient = _patient(request, query.patient, "fhir_search")
    found = _resources(request.user, patient, resource_type)  # type: ignore[arg-type]
    page, total = query.run(found)
    url = request.build_absolute_uri(request.path)
    links = fhir_search.links(url, request.GET, query, total)
    return fhir_response(
        mapping.bundle("searchset", page, _base(request), total=total, links=links)
    )


@fhir_view(("GET",))
def everything(request: HttpRequest, resource_id: str) -> HttpResponse:
    """`Patient/{id}/$everything`: the patient, their record, and the actors it refers to."""
    patient = _patient(request, resource_id, "fhir_everything")
    user: User = request.user  # type: ignore[assignment]
    rxs = _prescriptions(user, patient)  # read once, for the actors and both resource types
    resources = [mapping.patient_resource(patient), *_actors(user, patient, rxs)]
    for resource_type in SEARCHABLE:
        resources += _resources(user, patient, resource_type, rxs=rxs)
    return fhir_response(mapping.bundle("searchset", resources, _base(request)))


@csrf_exempt  # checked below, so that a failure is an OperationOutcome too
@fhir_view(("POST",))
def transaction_endpoint(request: HttpRequest) -> HttpResponse:
    """`POST /` with a transaction Bundle: import a patient (prescribers and clinic staff)."""
    csrf = CsrfViewMiddleware(lambda r: HttpResponse())
    if not is_token_request(request) and csrf.process_view(request, None, (), {}):  # type: ignore[arg-type]
        raise FhirError(403, "CSRF check failed: send the X-CSRFToken header with the session.")
    user: User = request.user  # type: ignore[assignment]
    require_role(user, IMPORT_ROLES, action="fhir_import", patient_id=None, request=request)
    if user.organisation is None:
        raise PermissionDenied("You belong to no clinic.")
    try:
        with transaction.atomic():
            result = importer.import_entries(request.body, user.organisation, user)
            patient = result.patient
            audit_record(
                actor=user,
                action="fhir_import",
                obj=patient,
                patient_id=patient.pk,
                request=request,
                detail={"imported": result.counts, "changed_or_skipped": len(result.notes)},
            )
    except ValidationError as error:
        where, messages = next(iter(error.message_dict.items()))
        audit_record(
            actor=user,
            action="fhir_import",
            object_type="fhir.bundle",
            outcome=AuditEvent.Outcome.REFUSED,
            reason=f"invalid: {where}: {' '.join(messages)}",
            request=request,
        )
        return operation_outcome(400, f"{where}: {' '.join(messages)}", where)
    return fhir_response(_transaction_response(result))


def _transaction_response(result: importer.Imported) -> dict[str, Any]:
    """One response entry per request entry: created (with a warning if it was changed on the way
    in, e.g. an open course arrives in screening), or accepted and not imported, saying why."""
    entries = []
    for index, kind in enumerate(result.kinds):
        location = result.locations.get(index)
        note = result.notes.get(index)
        response: dict[str, Any] = (
            {"status": "201 Created", "location": location} if location else {"status": "200 OK"}
        )
        if note:
            code = "informational" if location else "not-supported"
            response["outcome"] = shared_outcome(code, f"{kind}: {note}", severity="warning")
        entries.append({"response": response})
    return mapping.bundle_valid(
        {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
    )


def _base(request: HttpRequest) -> str:
    """The server's base URL (…/fhir/R4/), for the Bundle entries' fullUrl."""
    path = request.path
    for marker in ("/Patient/", "/metadata"):
        if marker in path:
            return request.build_absolute_uri(path[: path.index(marker) + 1])
    return request.build_absolute_uri(path.rsplit("/", 1)[0] + "/")
