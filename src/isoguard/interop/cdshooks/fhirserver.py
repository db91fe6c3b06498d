"""The data a CDS service needs: from the EHR's prefetch, else read from the EHR's FHIR server.

CDS Hooks 2.0 (Prefetch and FHIR Resource Access; interop.md 1.3): a prefetch key the EHR sends
holds the template's answer, or `null` when there is no such data; a key it leaves out means it
did not (or could not) prefetch it, and the service may read the template's query itself when the
call carries both `fhirServer` and `fhirAuthorization`.

So a key that was sent is used as it is (`null` is never read again: the EHR has said there is
nothing). A key that was left out is read from `fhirServer`, but only when

- the call has `fhirAuthorization` (a Bearer token) as well as `fhirServer`, and
- `fhirServer` is one of the `fhir_servers` configured for the caller's issuer in
  ISOGUARD_CDS_ISSUERS (the same base URL, or a path under one): a caller can never make isoguard
  send a request, let alone its token, to a host of the caller's choosing.

A read is a GET of the template with its tokens filled in (`{{context.patientId}}`,
`{{userPractitionerId}}` ...; each value must be a FHIR id) under `fhirServer`, with
`Authorization: Bearer <access_token>` and `Accept: application/fhir+json`. Redirects are not
followed; it may take ISOGUARD_CDS_FHIR_TIMEOUT seconds in all and MAX_BYTES of body; the answer
must be `200` with a FHIR JSON resource of the type the template asks for (the resource, or a
Bundle for a search, whose `next` pages under the same server are read too, up to MAX_PAGES).
Anything else raises `Unavailable` with a message that names what could not be read and why;
the caller decides between a 412 and a warning card.

The access token goes into the Authorization header and nowhere else: it is not logged, audited,
stored or put in a message. Each read is audited (`cds_fhir_read`) with its URL (the server, the
resource path and the query, which hold ids and codes, not secrets), the HTTP status and the size.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from django.conf import settings

from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.interop.cdshooks.auth import Client, fhir_server_allowed
from isoguard.interop.cdshooks.cards import HookRequest
from isoguard.interop.outcome import FHIR_JSON

MAX_BYTES = 2 * 1024 * 1024
MAX_PAGES = 5
JSON_TYPES = (FHIR_JSON, "application/json", "application/json+fhir")
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
TOKEN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


def client_factory(timeout: float) -> httpx.Client:
    """The HTTP client for one hook call's reads (tests may replace this)."""
    return httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)


class Unavailable(Exception):
    """The data could not be had; the message says what and why (it is safe to return).

    `code` is the OperationOutcome issue type; `tried` is whether the server was read (so the
    data may exist but could not be had) rather than there being no server to read it from.
    """

    def __init__(
        self, message: str, code: str = "not-found", *, tried: bool = False, status: int = 0
    ):
        super().__init__(message)
        self.code = code
        self.tried = tried
        self.status = status
        """The HTTP status of the answer that could not be used (0: there was none)."""


@dataclass(frozen=True)
class Data:
    """A prefetch key's value: a FHIR resource, or None when the EHR has no such data.

    Read from the server it is a resource of the type asked for; prefetched it is what the EHR
    sent, which the caller checks.
    """

    value: Any
    origin: Literal["prefetch", "server"]


def render(template: str, context: Mapping[str, Any]) -> str:
    """The template's query with its prefetch tokens filled in from the hook's context."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("context."):
            raw = context.get(name.removeprefix("context."))
        else:
            kind = USER_TOKENS.get(name)
            user = str(context.get("userId") or "")
            if kind is None:
                raise Unavailable(f"the prefetch token {{{{{name}}}}} is not one isoguard knows")
            raw = user.removeprefix(f"{kind}/") if user.startswith(f"{kind}/") else None
        if not isinstance(raw, str) or not FHIR_ID.fullmatch(raw) or not raw.strip("."):
            raise Unavailable(f"the prefetch token {{{{{name}}}}} has no FHIR id in the context")
        return quote(raw, safe="")

    return TOKEN.sub(value, template)


def _expected_type(query: str) -> str:
    """The resource type a query answers: the type of a read, or Bundle for a search."""
    path = query.split("?", 1)[0]
    return path.split("/", 1)[0] if "/" in path else "Bundle"


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass
class EhrData:
    """The prefetch of one hook call, completed from the EHR's FHIR server when it may be."""

    request: HookRequest
    caller: Client
    service_id: str
    templates: Mapping[str, str]
    origins: dict[str, str] = field(default_factory=dict)
    """How each key was had (for the audit): prefetch, null, server, or why not."""
    _http: httpx.Client | None = None

    def get(self, key: str, *, patient_id: int | None = None) -> Data:
        """The key's data, as prefetched or read; Unavailable if it cannot be had."""
        prefetch = self.request.prefetch or {}
        if key in prefetch:
            value = prefetch[key]
            self.origins[key] = "prefetch" if value is not None else "null"
            return Data(value, "prefetch")
        try:
            base, token = self._server(key)
            query = render(self.templates[key], self.request.context)
            value = self._read(key, base, token, query, patient_id)
        except Unavailable as error:
            self.origins[key] = f"unavailable: {error}"
            raise
        self.origins[key] = "server"
        return Data(value, "server")

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _server(self, key: str) -> tuple[str, str]:
        """The FHIR server's base URL and the access token, if isoguard may read from it."""
        server = self.request.fhirServer
        if not server or self.request.fhirAuthorization is None:
            raise Unavailable(
                f"prefetch.{key} was not sent, and the request has no fhirServer with"
                " fhirAuthorization to read it from"
            )
        if not fhir_server_allowed(self.caller.issuer, server):
            audit_record(
                actor=None, action="cds_fhir_read", object_type="cdshooks.service",
                object_id=self.service_id, outcome=AuditEvent.Outcome.REFUSED,
                reason="fhirServer is not allow-listed for the issuer",
                detail={"issuer": self.caller.issuer.iss, "fhirServer": server[:300],
                        "key": key, "hookInstance": self.request.hookInstance},
            )  # fmt: skip
            raise Unavailable(
                f"prefetch.{key} was not sent, and fhirServer {server} is not allow-listed for"
                " this EHR in isoguard (fhir_servers of ISOGUARD_CDS_ISSUERS), so isoguard does"
                " not read it",
                "security",
            )
        return server.rstrip("/"), self.request.fhirAuthorization.access_token

    def _read(
        self, key: str, base: str, token: str, query: str, patient_id: int | None
    ) -> dict[str, Any]:
        expected = _expected_type(query)
        what = f"{query.split('?', 1)[0]} (prefetch.{key})"
        deadline = time.monotonic() + settings.ISOGUARD_CDS_FHIR_TIMEOUT
        url = f"{base}/{query}"
        status: int | None = None
        size = 0
        try:
            resource, status, size = self._get(url, token, expected, what, deadline)
            if expected == "Bundle":
                resource, size = self._pages(resource, base, token, what, deadline, size)
        except Unavailable as error:
            self._audit(key, url, error.status or status, size, patient_id, str(error))
            raise
        self._audit(key, url, status, size, patient_id, "")
        return resource

    def _pages(
        self, bundle: dict[str, Any], base: str, token: str, what: str, deadline: float, size: int
    ) -> tuple[dict[str, Any], int]:
        """The searchset with the entries of its next pages (on the same server) added."""
        entries = list(bundle.get("entry") or [])
        page = bundle
        for _ in range(MAX_PAGES - 1):
            following = _next_link(page)
            if following is None:
                break
            if not _under(base, following):
                raise Unavailable(
                    f"could not read {what}: the next page is not on the EHR's FHIR server",
                    "exception", tried=True,
                )  # fmt: skip
            page, _, more = self._get(following, token, "Bundle", what, deadline, size)
            size += more
            entries.extend(page.get("entry") or [])
        else:
            if _next_link(page) is not None:
                raise Unavailable(
                    f"could not read {what}: the EHR's FHIR server answered more than"
                    f" {MAX_PAGES} pages",
                    "too-costly", tried=True,
                )  # fmt: skip
        return {**bundle, "entry": entries}, size

    def _get(
        self, url: str, token: str, expected: str, what: str, deadline: float, used: int = 0
    ) -> tuple[dict[str, Any], int, int]:
        """GET one FHIR JSON resource of type `expected`: (the resource, the status, its size)."""
        timeout = settings.ISOGUARD_CDS_FHIR_TIMEOUT
        if self._http is None:
            self._http = client_factory(timeout)
        headers = {"Authorization": f"Bearer {token}", "Accept": FHIR_JSON}
        failed = f"could not read {what} from the EHR's FHIR server"
        try:
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("the deadline passed")
            with self._http.stream("GET", url, headers=headers, follow_redirects=False) as answer:
                status = answer.status_code
                if status != 200:
                    redirect = ", and redirects are not followed" if answer.is_redirect else ""
                    raise Unavailable(
                        f"{failed}: it answered HTTP {status}{redirect}", "exception",
                        tried=True, status=status,
                    )  # fmt: skip
                if _content_type(answer) not in JSON_TYPES:
                    raise Unavailable(
                        f"{failed}: it answered {_content_type(answer) or 'no content type'},"
                        " not FHIR JSON", "exception", tried=True, status=status,
                    )  # fmt: skip
                try:
                    body = b"".join(_limited(answer, MAX_BYTES - used, deadline, failed))
                except Unavailable as error:
                    error.status = status
                    raise
        except httpx.TimeoutException:
            raise Unavailable(
                f"{failed}: no answer within {timeout:g} s", "timeout", tried=True
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as error:
            raise Unavailable(
                f"{failed}: {type(error).__name__}", "exception", tried=True
            ) from None
        try:
            resource = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise Unavailable(
                f"{failed}: the answer is not JSON", "exception", tried=True, status=status
            ) from None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind != expected:
            raise Unavailable(
                f"{failed}: it answered {kind or 'JSON that is not a FHIR resource'},"
                f" not a {expected}", "exception", tried=True, status=status,
            )  # fmt: skip
        return resource, status, len(body)

    def _audit(
        self, key: str, url: str, status: int | None, size: int, patient_id: int | None, why: str
    ) -> None:
        audit_record(
            actor=None, action="cds_fhir_read", object_type="cdshooks.service",
            object_id=self.service_id, patient_id=patient_id,
            outcome=AuditEvent.Outcome.REFUSED if why else AuditEvent.Outcome.ALLOWED,
            reason=why,
            detail={"issuer": self.caller.issuer.iss, "key": key, "url": url[:500],
                    "status": status, "bytes": size, "hookInstance": self.request.hookInstance},
        )  # fmt: skip


def _limited(answer: httpx.Response, limit: int, deadline: float, failed: str) -> Iterator[bytes]:
    """The body's chunks, stopping at `limit` bytes or at the deadline."""
    length = answer.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise Unavailable(f"{failed}: the answer is larger than {MAX_BYTES} bytes", "too-costly",
                          tried=True)  # fmt: skip
    total = 0
    for chunk in answer.iter_bytes():
        total += len(chunk)
        if total > limit:
            raise Unavailable(f"{failed}: the answer is larger than {MAX_BYTES} bytes",
                              "too-costly", tried=True)  # fmt: skip
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the deadline passed")
        yield chunk


def _under(base: str, url: str) -> bool:
    """Whether `url` (a next page, query allowed) is `base` or a path under it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    path = parts.path
    if parts.username is not None or parts.password is not None or parts.fragment:
        return False
    if "%2e" in path.lower() or "\\" in url or any(c.isspace() for c in url):
        return False
    if any(segment in (".", "..") for segment in path.split("/")):
        return False
    where = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return where == base or where.startswith(base + "/")


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, Mapping) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None
