"""Typed response schemas of /api/v1/."""

from __future__ import annotations

import datetime as dt

from ninja import Schema


class ErrorDetail(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(Schema):
    """The one error shape of the API: {"error": {"code", "message", "field"}}."""

    error: ErrorDetail


class Me(Schema):
    username: str
    role: str
    organisation: str | None


class PatientSummary(Schema):
    id: int
    given_name: str
    family_name: str
    birth_date: dt.date
    jurisdiction: str
    clinic: str
