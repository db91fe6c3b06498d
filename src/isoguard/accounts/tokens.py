"""API tokens: how a system (an EHR integration, a lab feed) authenticates to /fhir/R4/, /api/v1/.

A system is a User of the clinic with a role (say `ehr.riverside`, clinic staff), so the access
rules (`isoguard.patients.access`) and the audit trail treat it as that user. Its token is
`isoguard_<prefix>_<secret>`, sent as `Authorization: Bearer <token>`:

- `prefix` (8 hex digits) names the token in lists, audits and `isoguard token revoke`; it is not
  secret. `secret` is `secrets.token_urlsafe(32)`; only its SHA-256 is stored, so the token is
  shown once, when it is made (`isoguard token create`).
- a token is refused (401) when it is malformed or unknown, revoked, expired, or its user is
  inactive; each refusal is audited (`token_auth`, refused) with the prefix, never the secret.
- refusals are counted per client address (`isoguard.security.token_throttle`): past the limit,
  every refused token from that address is answered 429 (TokenThrottled) until the window ends,
  and only the first of those is audited (`token_throttled`), so a flood does not flood the
  audit trail; a good token from that address still works.
- a request with a token carries no cookie, so it needs no CSRF token; a session still does.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import math
import re
import secrets
from contextlib import nullcontext
from typing import NoReturn

from django.db import IntegrityError, router, transaction
from django.http import HttpRequest
from django.utils import timezone

from isoguard.accounts.models import ApiToken, Organisation, User
from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record
from isoguard.operations.prepared import PreparedValues, attnames, loaded
from isoguard.security import token_throttle

SCHEME = "isoguard"
TOKEN = re.compile(r"isoguard_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})")
BEARER = re.compile(r"bearer(?:\s+(.*))?", re.IGNORECASE | re.DOTALL)
MAX_DAYS = 3650
LAST_USED_EVERY = dt.timedelta(minutes=1)


class TokenError(Exception):
    """The token is not accepted; the message says why and is safe to return to the caller."""


class TokenThrottled(TokenError):
    """Too many refused tokens from the caller's address: refused until `until` (a 429)."""

    def __init__(self, message: str, until: dt.datetime, now: dt.datetime) -> None:
        super().__init__(message)
        self.until = until
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(user: User, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """Make a token for `user`; return it and the token string, which is never stored."""
    expires_at = timezone.now() + dt.timedelta(days=days) if days is not None else None
    for _attempt in range(5):
        prefix, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    user=user,
                    name=name,
                    prefix=prefix,
                    key_hash=key_hash(secret),
                    expires_at=expires_at,
                )
        except IntegrityError:  # a prefix already taken: draw again
            continue
        audit_record(
            actor=None,
            action="token_create",
            obj=token,
            detail={"prefix": prefix, "user": user.get_username(), "name": name},
        )
        return token, f"{SCHEME}_{prefix}_{secret}"
    raise RuntimeError("could not draw an unused token prefix")  # pragma: no cover


def token_revoke(token: ApiToken) -> None:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(
        actor=None,
        action="token_revoke",
        obj=token,
        detail={"prefix": token.prefix, "user": token.user.get_username()},
    )


def bearer(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None when there is no such header."""
    match = BEARER.fullmatch(request.headers.get("Authorization", "").strip())
    return (match.group(1) or "").strip() if match else None


def token_user(request: HttpRequest, raw: str) -> User:
    """The user `raw` authenticates, or TokenError (audited), or TokenThrottled when the token is
    refused and the caller's address sent too many refused tokens. A good token is never
    throttled: one misconfigured system must not lock out every system behind its address (a
    proxy, a clinic's network), and a 256-bit secret is not guessed by retrying. Marks the
    request as token-borne."""
    match = TOKEN.fullmatch(raw)
    token = _token_read(match.group(1)) if match is not None else None
    if token is None or match is None:
        _refuse(request, "unknown or malformed API token", "Unknown API token.", None, match)
    if not hmac.compare_digest(token.key_hash, key_hash(match.group(2))):
        _refuse(request, "wrong secret for this API token", "Unknown API token.", token, match)
    now = timezone.now()
    state = token.state(now)
    if state == "revoked":
        _refuse(request, "API token revoked", "This API token has been revoked.", token, match)
    if state == "expired":
        _refuse(request, "API token expired", "This API token has expired.", token, match)
    if not token.user.is_active:
        _refuse(
            request, "API token of an inactive user", "This API token's user is inactive.",
            token, match,
        )  # fmt: skip
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # not a write per request
    request.api_token = token  # type: ignore[attr-defined]
    return token.user


@functools.cache
def _token_with_user() -> PreparedValues:
    """A token with its user and the user's organisation, in one query compiled once
    (operations/prepared.py): every request with a token starts here, and compiling the query
    through the ORM cost more than the rest of a small request's work."""
    return PreparedValues(
        "token", lambda prefixes: ApiToken.objects.filter(prefix__in=prefixes),
        *attnames(ApiToken), *(f"user__{a}" for a in attnames(User)),
        *(f"user__organisation__{a}" for a in attnames(Organisation)),
    )  # fmt: skip


def _token_read(prefix: str) -> ApiToken | None:
    """The token of this prefix (unique), its user and organisation loaded, as
    `select_related("user", "user__organisation")` would; None if there is none."""
    using = router.db_for_read(ApiToken)
    rows = _token_with_user().rows([prefix], using)
    if not rows:
        return None
    (token, user, organisation), _ = loaded(using, rows[0], ApiToken, User, Organisation)
    user.organisation = organisation if user.organisation_id is not None else None
    token.user = user
    return token


def _refuse(
    request: HttpRequest,
    reason: str,
    message: str,
    token: ApiToken | None,
    match: re.Match[str] | None,
) -> NoReturn:
    """Count a refused token against the caller's address and audit it (its prefix and user,
    never the secret), then raise TokenError; past the throttle's limit (already, or reached by
    this refusal), raise TokenThrottled instead, unaudited but for the window's one event."""
    address, now = token_throttle.address_of(request), timezone.now()
    throttle = token_throttle.current(address, now)
    if throttle is not None:
        _throttled(request, throttle, match)
    with transaction.atomic():
        failures = token_throttle.count_failure(address, now)
        if failures <= token_throttle.limit():
            audit_record(
                actor=None,
                action="token_auth",
                object_type="accounts.apitoken",
                object_id=match.group(1) if match is not None else "",
                outcome=AuditEvent.Outcome.REFUSED,
                reason=reason,
                request=request,
                detail={"user": token.user.get_username()} if token is not None else {},
            )
    throttle = token_throttle.current(address, now) if failures > token_throttle.limit() else None
    if throttle is not None:
        _throttled(request, throttle, match)
    raise TokenError(message)


def _throttled(
    request: HttpRequest, throttle: token_throttle.Throttle, match: re.Match[str] | None
) -> NoReturn:
    """Refuse a token from a throttled address; audit it if it is the window's first refusal."""
    now, minutes = timezone.now(), int(token_throttle.window().total_seconds() // 60)
    # No transaction, and no write, once the throttle is audited (a BEGIN IMMEDIATE on SQLite
    # would take the write lock): a flood costs one read per request.
    with transaction.atomic() if not throttle.audited else nullcontext():
        if token_throttle.claim_audit(throttle, token_throttle.address_of(request)):
            audit_record(
                actor=None,
                action="token_throttled",
                object_type="accounts.apitoken",
                object_id=match.group(1) if match is not None else "",
                outcome=AuditEvent.Outcome.REFUSED,
                reason=f"{throttle.failures} refused API tokens from this address within "
                f"{minutes} minutes: every refused token from it is answered 429 until the "
                "window ends",
                request=request,
                detail={"failures": throttle.failures, "window_minutes": minutes,
                        "until": throttle.until.isoformat()},
            )  # fmt: skip
    until = timezone.localtime(throttle.until)
    raise TokenThrottled(
        f"Too many refused API tokens from this address ({throttle.failures} within {minutes} "
        f"minutes): a refused token from it is answered 429 until "
        f"{until.isoformat(timespec='seconds')} (Retry-After gives the seconds). Check the token "
        "your system sends: a revoked or expired one needs a new one from isoguard's "
        "administrator (isoguard token create).",
        throttle.until,
        now,
    )


def is_token_request(request: HttpRequest) -> bool:
    """Whether the request was authenticated by an API token (and so needs no CSRF check)."""
    return getattr(request, "api_token", None) is not None
