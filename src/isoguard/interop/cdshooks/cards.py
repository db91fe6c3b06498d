"""CDS Hooks 2.0 wire types as pydantic models, written from the spec (docs/knowledge/interop.md 1).

Responses (Card, Suggestion, Action, Link, Source, CardsResponse) forbid unknown fields, so what
isoguard sends is exactly the spec's shape; requests (HookRequest, FeedbackRequest) allow the
extensions a client may add. The invariants of the HL7 logical model CDSHooksResponse that the
Java validator would check are mirrored here: `selectionBehavior` is required with suggestions
(cds-resp-6), create and update actions carry a resource, delete a resourceId, override reasons
have a display. A summary is under 140 characters, as the spec says (not 140 or fewer).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SUMMARY_MAX = 139
Indicator = Literal["info", "warning", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Coding(_Strict):
    """The spec's own slimmed Coding: system and code required."""

    system: str
    code: str
    display: str | None = None


class Source(_Strict):
    label: str = Field(min_length=1)
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_Strict):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: list[str] | None = None

    @model_validator(mode="after")
    def _payload(self) -> Action:
        if self.type in ("create", "update") and not self.resource:
            raise ValueError(f"a {self.type} action needs the full resource")
        if self.type == "delete" and not self.resourceId:
            raise ValueError("a delete action needs resourceId")
        return self


class Suggestion(_Strict):
    label: str = Field(min_length=1)
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] | None = None
    actionSelectionBehavior: Literal["all", "any", "at-most-one"] | None = None


class Link(_Strict):
    label: str = Field(min_length=1)
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None

    @model_validator(mode="after")
    def _smart_only(self) -> Link:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is for smart links only")
        return self


class OverrideReason(Coding):
    display: str  # each override reason MUST have a display


class Card(_Strict):
    uuid: str | None = None
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX)
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideReason] | None = None
    links: list[Link] | None = None

    @model_validator(mode="after")
    def _selection(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("selectionBehavior is required when there are suggestions")
        return self


class CardsResponse(_Strict):
    cards: list[Card]
    systemActions: list[Action] | None = None


def dump(model: BaseModel) -> dict[str, Any]:
    """Return the JSON body of a response model, leaving out the fields not set."""
    return model.model_dump(mode="json", exclude_none=True)


SOURCE_LABEL = "isoguard"
INDICATOR_ORDER: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}


def summary(text: str) -> str:
    """Return `text` as a card summary: one line, under 140 characters."""
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


def new_card(
    indicator: Indicator, text: str, source_url: str | None, detail: str = "", **extra: Any
) -> Card:
    """A card from isoguard with a fresh uuid (for feedback) and `text` as its summary."""
    return Card(
        uuid=str(uuid.uuid4()), summary=summary(text), indicator=indicator,
        detail=detail or None, source=Source(label=SOURCE_LABEL, url=source_url), **extra,
    )  # fmt: skip


# Requests -----------------------------------------------------------------------------------


class FhirAuthorization(_Open):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str
    subject: str


class HookRequest(_Open):
    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _server_with_token(self) -> HookRequest:
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirServer is required with fhirAuthorization")
        return self


class Bundle(_Open):
    resourceType: Literal["Bundle"]
    entry: list[dict[str, Any]] = []


class PatientViewContext(_Open):
    userId: str = Field(min_length=1)
    patientId: str = Field(min_length=1)
    encounterId: str | None = None


class OrderSignContext(PatientViewContext):
    draftOrders: Bundle


class OrderSelectContext(OrderSignContext):
    selections: list[str]


class OverrideReasonGiven(_Open):
    reason: Coding | None = None
    userComment: str | None = None


class FeedbackItem(_Open):
    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[dict[str, Any]] | None = None
    overrideReason: OverrideReasonGiven | None = None
    outcomeTimestamp: dt.datetime

    @model_validator(mode="after")
    def _accepted(self) -> FeedbackItem:
        if self.outcomeTimestamp.tzinfo is None:
            raise ValueError("outcomeTimestamp must carry its time zone (RFC 3339)")
        return self


class FeedbackRequest(_Open):
    feedback: list[FeedbackItem] = Field(min_length=1)
