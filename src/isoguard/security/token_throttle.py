"""The API-token throttle: an address that sends too many refused tokens is refused for a while.

Each refused token (malformed, unknown, wrong secret, revoked, expired, inactive user) is audited
(`token_auth`) and counted against the client's address, the one the login lockout uses
(`client_ip`). After ISOGUARD_TOKEN_FAILURES_LIMIT refusals within
ISOGUARD_TOKEN_FAILURES_WINDOW_MINUTES of the first, every refused token from that address is
answered 429 (with Retry-After) until that window ends; a good token still works, so one
misconfigured system does not lock out every system behind its address. Only the first of those
429s is audited (`token_throttled`, once per window): the others cost two indexed reads and no
write, where each audit event would wait for the audit chain's head row like every other audited
write.

The count is a database row per address (`TokenFailureWindow`), changed by single UPDATE
statements, so every process and every app server shares it. Requests without a token (a
browser session) are not affected. `isoguard remind` deletes the rows of ended windows
(`prune`); `isoguard token unthrottle ADDRESS` ends an address's window at once (`lift`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.http import HttpRequest
from django.utils import timezone

from isoguard.accounts.models import TokenFailureWindow
from isoguard.audit.services import audit_record
from isoguard.security.lockout import client_ip

DEFAULT_LIMIT = 20
DEFAULT_WINDOW_MINUTES = 10


@dataclass(frozen=True)
class Throttle:
    """An address's throttle: since when it counts, until when it refuses, whether it is audited."""

    start: dt.datetime
    until: dt.datetime
    failures: int
    audited: bool


def limit() -> int:
    """Refused tokens from one address, within a window, before the throttle refuses it."""
    return int(getattr(settings, "ISOGUARD_TOKEN_FAILURES_LIMIT", DEFAULT_LIMIT))


def window() -> dt.timedelta:
    minutes = getattr(settings, "ISOGUARD_TOKEN_FAILURES_WINDOW_MINUTES", DEFAULT_WINDOW_MINUTES)
    return dt.timedelta(minutes=int(minutes))


def address_of(request: HttpRequest) -> str:
    """The client's address as the lockout sees it; every request of unknown address shares ''."""
    return client_ip(request) or ""


def current(address: str, now: dt.datetime) -> Throttle | None:
    """The throttle on `address` at `now`, or None: one read by the unique address, no write."""
    row = (
        TokenFailureWindow.objects.filter(
            address=address, window_start__gt=now - window(), failures__gte=limit()
        )
        .values_list("window_start", "failures", "throttle_audited")
        .first()
    )
    if row is None:
        return None
    start, failures, audited = row
    return Throttle(start=start, until=start + window(), failures=failures, audited=audited)


def claim_audit(throttle: Throttle, address: str) -> bool:
    """Whether this request audits the throttle: exactly one request per window does, whichever
    process it reaches (the UPDATE that turns `throttle_audited` on)."""
    if throttle.audited:
        return False
    claimed = TokenFailureWindow.objects.filter(
        address=address, window_start=throttle.start, throttle_audited=False
    ).update(throttle_audited=True)
    return int(claimed) == 1


def count_failure(address: str, now: dt.datetime) -> int:
    """Count one refused token from `address` and return the count of its window; a window that
    has ended starts again at this refusal. The count moves in one UPDATE (an INSERT for a new
    address), never read-then-written, so two processes counting at once both count."""
    ended = _ended(now)
    rows = TokenFailureWindow.objects.filter(address=address)
    with transaction.atomic():
        for _attempt in range(2):
            updated = rows.update(
                failures=Case(When(ended, then=Value(1)), default=F("failures") + 1),
                throttle_audited=Case(
                    When(ended, then=Value(False)), default=F("throttle_audited")
                ),
                window_start=Case(When(ended, then=Value(now)), default=F("window_start")),
            )
            if updated:
                return int(rows.values_list("failures", flat=True).get())
            try:
                with transaction.atomic():
                    TokenFailureWindow.objects.create(address=address, window_start=now, failures=1)
                return 1
            except IntegrityError:  # another process made the row first: count in it
                continue
    raise RuntimeError(f"could not count a refused token from {address!r}")  # pragma: no cover


def _ended(now: dt.datetime) -> Q:
    """The windows that have ended by `now`: they refuse nothing, and the next refusal starts a
    new one."""
    return Q(window_start__lte=now - window())


def prune(now: dt.datetime) -> int:
    """Delete the windows that have ended; return how many."""
    deleted, _ = TokenFailureWindow.objects.filter(_ended(now)).delete()
    return int(deleted)


@dataclass(frozen=True)
class Lifted:
    counted: bool
    """whether any refused token was counted for the address (else nothing was done)"""
    throttle: Throttle | None
    """the throttle it was under, if any"""


def lift(address: str) -> Lifted:
    """End `address`'s window now, throttled or not, audited; its next refused token starts a
    new count."""
    now = timezone.now()
    with transaction.atomic():
        was = current(address, now)
        deleted, _ = TokenFailureWindow.objects.filter(address=address).delete()
        if deleted:
            audit_record(actor=None, action="token_unthrottle", object_type="address",
                         object_id=address, detail={"was_throttled": was is not None})  # fmt: skip
    return Lifted(counted=bool(deleted), throttle=was)
