"""An OpenAPI 3.0 description of the FHIR endpoints, served at /fhir/R4/openapi.json.

Written by hand as a dict, from the same tables the views use (the searchable types, their id
prefixes and search parameters), so a type or parameter added there is described here too.
Generic: every resource is `{"resourceType": ...}`; the CapabilityStatement (`metadata`) and the
FHIR specification say the rest. schemathesis tests the endpoints against it
(tests/interop/test_fhir_schemathesis.py).
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from isoguard.interop.fhir import search as fhir_search
from isoguard.interop.fhir.views import ACTORS, ID_PREFIXES, SEARCHABLE, fhir_view
from isoguard.interop.outcome import FHIR_JSON

BASE = "/fhir/R4/"
PATIENT_ID = r"^(Patient/)?(patient-)?[0-9]{1,12}$"
DATE = r"^(eq|ne|gt|lt|ge|le)?[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"
TRANSACTION_EXAMPLE = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {
            "fullUrl": "urn:uuid:8d2c8a34-6f1e-4d39-9a55-3f3f1f6a2b10",
            "resource": {
                "resourceType": "Patient",
                "name": [{"family": "Example", "given": ["Erin"]}],
                "birthDate": "2001-02-03",
            },
            "request": {"method": "POST", "url": "Patient"},
        }
    ],
}
ERRORS = {
    "400": "Invalid request or search (the OperationOutcome's expression names the parameter)",
    "401": "Not logged in, or an unknown, revoked or expired API token",
    "403": "Not allowed (audited)",
    "404": "Unknown resource, id or type",
}


def _content(schema: str) -> dict[str, Any]:
    return {FHIR_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _responses(ok: str, schema: str, errors: tuple[str, ...]) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": ok, "content": _content(schema)}}
    for code in errors:
        responses[code] = {"$ref": f"#/components/responses/Error{code}"}
    return responses


def _id_parameter(resource_type: str) -> dict[str, Any]:
    prefixes = "|".join(re.escape(p) for p in ID_PREFIXES.get(resource_type, ()))
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": f"the resource id, e.g. {ID_PREFIXES.get(resource_type, ('x',))[0]}-12",
        "schema": {"type": "string", "pattern": f"^({prefixes})-[0-9]{{1,12}}(-[0-9]{{1,4}})?$"},
    }


def _patient_parameter(name: str, required: bool) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": fhir_search.DOCUMENTATION["patient"]
        + ("" if required else " (a synonym of patient)"),
        "schema": {"type": "string", "pattern": PATIENT_ID},
    }


def _search_parameters(resource_type: str) -> list[dict[str, Any]]:
    own = fhir_search.parameters(resource_type)
    query: list[dict[str, Any]] = [
        _patient_parameter("patient", True),
        _patient_parameter("subject", False),
        {"name": "_id", "in": "query", "description": fhir_search.DOCUMENTATION["_id"],
         "schema": {"type": "string"}},
        {"name": "_count", "in": "query", "description": fhir_search.DOCUMENTATION["_count"],
         "schema": {"type": "integer", "minimum": 0, "maximum": fhir_search.MAX_COUNT}},
        {"name": "_offset", "in": "query", "description": fhir_search.DOCUMENTATION["_offset"],
         "schema": {"type": "integer", "minimum": 0, "maximum": fhir_search.MAX_OFFSET}},
    ]  # fmt: skip
    dates = [name for name, (kind, _) in own.items() if kind == "date"]
    if dates:
        query.append(
            {"name": "_sort", "in": "query", "description": fhir_search.DOCUMENTATION["_sort"],
             "schema": {"type": "string", "enum": dates + [f"-{n}" for n in dates]}}
        )  # fmt: skip
    for name, (kind, element) in own.items():
        schema: dict[str, Any] = {"type": "string"}
        if kind == "date":
            schema["pattern"] = DATE
        query.append(
            {"name": name, "in": "query", "schema": schema,
             "description": f"{element}: {fhir_search.DOCUMENTATION[kind]}"}
        )  # fmt: skip
    return query


def openapi_schema() -> dict[str, Any]:
    errors = ("400", "401", "403", "404")
    paths: dict[str, Any] = {
        BASE: {
            "post": {
                "operationId": "transaction",
                "summary": "Import a patient from a transaction Bundle (prescribers, clinic staff)",
                "requestBody": {
                    "required": True,
                    "content": {
                        FHIR_JSON: {
                            "schema": {"$ref": "#/components/schemas/TransactionBundle"},
                            "example": TRANSACTION_EXAMPLE,
                        }
                    },
                },
                "responses": _responses(
                    "A transaction-response Bundle", "Bundle", ("400", "401", "403")
                ),
            }
        },
        f"{BASE}metadata": {
            "get": {
                "operationId": "metadata",
                "summary": "The CapabilityStatement",
                "security": [],
                "responses": _responses("The CapabilityStatement", "Resource", ("401",)),
            }
        },
        f"{BASE}Patient/{{id}}": {
            "get": {
                "operationId": "readPatient",
                "summary": "One Patient",
                "parameters": [_patient_path()],
                "responses": _responses("The Patient", "Resource", errors),
            }
        },
        f"{BASE}Patient/{{id}}/$everything": {
            "get": {
                "operationId": "patientEverything",
                "summary": "The patient, their record and the actors it refers to",
                "parameters": [_patient_path()],
                "responses": _responses("A searchset Bundle", "Bundle", errors),
            }
        },
    }
    for resource_type in SEARCHABLE:
        paths[f"{BASE}{resource_type}"] = {
            "get": {
                "operationId": f"search{resource_type}",
                "summary": f"Search a patient's {resource_type} resources (paged)",
                "parameters": _search_parameters(resource_type),
                "responses": _responses("A searchset Bundle with total and links", "Bundle",
                                        errors),
            }
        }  # fmt: skip
        paths[f"{BASE}{resource_type}/{{id}}"] = {
            "get": {
                "operationId": f"read{resource_type}",
                "summary": f"One {resource_type}",
                "parameters": [_id_parameter(resource_type)],
                "responses": _responses(f"The {resource_type}", "Resource", errors),
            }
        }
    for resource_type, prefix in ACTORS.items():
        paths[f"{BASE}{resource_type}/{{id}}"] = {
            "get": {
                "operationId": f"read{resource_type}",
                "summary": f"One {resource_type} that the user's records refer to (else 404)",
                "parameters": [{
                    "name": "id", "in": "path", "required": True,
                    "description": f"the resource id, e.g. {prefix}-12",
                    "schema": {"type": "string", "pattern": f"^{prefix}-[0-9]{{1,12}}$"},
                }],
                "responses": _responses(f"The {resource_type}", "Resource", errors),
            }
        }  # fmt: skip
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "isoguard FHIR R4",
            "version": "4.0.1",
            "description": "FHIR R4 (4.0.1) JSON. A system sends an API token (`Authorization: "
            "Bearer isoguard_...`, made with `isoguard token create`); a person the session "
            "cookie (and X-CSRFToken on a POST). Every error is an OperationOutcome. See "
            "docs/integration.md and GET metadata.",
        },
        "paths": paths,
        "security": [{"bearerToken": []}, {"sessionCookie": []}],
        "components": {
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "isoguard_<prefix>_<secret>",
                },
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            },
            "schemas": {
                "Resource": {
                    "type": "object",
                    "required": ["resourceType"],
                    "properties": {"resourceType": {"type": "string"}, "id": {"type": "string"}},
                },
                "Bundle": {
                    "type": "object",
                    "required": ["resourceType", "type"],
                    "properties": {
                        "resourceType": {"type": "string", "enum": ["Bundle"]},
                        "type": {"type": "string"},
                        "total": {"type": "integer"},
                        "link": {"type": "array", "items": {"type": "object"}},
                        "entry": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "TransactionBundle": {
                    "type": "object",
                    "required": ["resourceType", "type"],
                    "properties": {
                        "resourceType": {"type": "string", "enum": ["Bundle"]},
                        "type": {"type": "string", "enum": ["transaction"]},
                        "entry": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "fullUrl": {"type": "string"},
                                    "resource": {"$ref": "#/components/schemas/Resource"},
                                },
                            },
                        },
                    },
                },
                "OperationOutcome": {
                    "type": "object",
                    "required": ["resourceType", "issue"],
                    "properties": {
                        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
                        "issue": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
            "responses": {
                f"Error{code}": {
                    "description": description,
                    "content": _content("OperationOutcome"),
                }
                for code, description in ERRORS.items()
            },
        },
    }


def _patient_path() -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "the Patient id, patient-12 (or 12)",
        "schema": {"type": "string", "pattern": PATIENT_ID.replace("(Patient/)?", "")},
    }


@fhir_view(("GET",), anonymous=True)
def openapi_json(request: HttpRequest) -> HttpResponse:
    """`GET openapi.json`: this description (anonymous, like metadata)."""
    return JsonResponse(openapi_schema())
