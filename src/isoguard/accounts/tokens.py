"""API tokens: how a system (an EHR integration, a lab feed) authenticates to /fhir/R4/, /api/v1/.

A system is a User of the clinic with a role (say `ehr.riverside`, clinic staff), so the access
rules (`isoguard.patients.access`) and the audit trail treat it as that user. Its token is
`isoguard_<prefix>_<secret>`, sent as `Authorization: Bearer <token>`:

- `prefix` (8 hex digits) names the token in lists, audits and `isoguard token revoke`; it is not
  secret. `secret` is `secrets.token_urlsafe(32)`; only its SHA-256 is stored, so the token is
  shown once, when it is made (`isoguard token create`).
- a token is refused (401) when it is malformed or unknown, revoked, expired, or its user is
  inactive; every refusal is audited (`token_auth`, refused) with the prefix, never the secret.
- a request with a token carries no cookie, so it needs no CSRF token; a session still does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import NoReturn

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from isoguard.accounts.models import ApiToken, User
from isoguard.audit.models import AuditEvent
from isoguard.audit.services import audit_record

SCHEME = "isoguard"
TOKEN = re.compile(r"isoguard_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})")
BEARER = re.compile(r"bearer(?:\s+(.*))?", re.IGNORECASE | re.DOTALL)
MAX_DAYS = 3650
LAST_USED_EVERY = dt.timedelta(minutes=1)


class TokenError(Exception):
    """The token is not accepted; the message says why and is safe to return to the caller."""


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
    """The user `raw` authenticates, or TokenError (audited). Marks the request as token-borne."""
    match = TOKEN.fullmatch(raw)
    token = None
    if match is not None:
        token = (
            ApiToken.objects.select_related("user", "user__organisation")
            .filter(prefix=match.group(1))
            .first()
        )
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


def _refuse(
    request: HttpRequest,
    reason: str,
    message: str,
    token: ApiToken | None,
    match: re.Match[str] | None,
) -> NoReturn:
    """Audit a refused token (its prefix and user, never the secret) and raise TokenError."""
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
    raise TokenError(message)


def is_token_request(request: HttpRequest) -> bool:
    """Whether the request was authenticated by an API token (and so needs no CSRF check)."""
    return getattr(request, "api_token", None) is not None
