"""The audit trail as a hash chain, so that an edit behind the app's back is caught.

Each event carries `seq` (its place: 1, 2, 3 ...), `prev_hash` (the hash of the event before it;
GENESIS for the first) and `hash` = SHA-256 of `prev_hash` and the event's canonical content (a
JSON text of every field but the id, keys sorted). `append` writes an event and moves the chain
head in the transaction of the change it records, so a rolled-back change leaves no event and no
gap. `verify` walks the whole chain and names the first broken link:

- a changed event (its content no longer gives its hash),
- a deleted or inserted event (a gap or a repeat in `seq`, or a `prev_hash` that is not the hash
  of the event before it),
- a cut-off end (the last event is not the one the head names).

It is tamper-evident, not tamper-proof: someone who can write the database can rebuild the whole
chain. Copying the head's hash somewhere else now and then (a printed report, a log server)
makes that detectable too; `isoguard audit verify` prints it for that purpose.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connections, router, transaction
from django.db.models import F

from isoguard.audit.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
HEAD_PK = 1
CHUNK = 2000


def canonical(event: AuditEvent) -> str:
    """The event's content as one JSON text, the same before saving and after reading back."""
    at = event.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    ip = AuditEvent._meta.get_field("ip_address").get_prep_value(event.ip_address)
    content: dict[str, Any] = {
        "seq": event.seq,
        "at": at,
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "patient_id": event.patient_id,
        "outcome": event.outcome,
        "reason": event.reason,
        "detail": event.detail,
        "ip_address": ip,
        "path": event.path,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + canonical(event)).encode()).hexdigest()


def append(event: AuditEvent) -> AuditEvent:
    """Chain and save `event` (unsaved), in the caller's transaction (or its own)."""
    db = router.db_for_write(AuditEvent)  # the primary, even for a read replica's report
    heads = AuditChainHead.objects.using(db)
    # No savepoint inside the caller's transaction: if the event cannot be written, the change it
    # records must not be either, so the whole transaction fails with it.
    with transaction.atomic(using=db, savepoint=False):
        # The UPDATE takes the head's lock before anything is read, so appends queue here.
        moved = _advance(db)
        if moved is None:
            heads.get_or_create(pk=HEAD_PK, defaults={"seq": 0, "hash": GENESIS})
            moved = _advance(db)
        assert moved is not None
        event.seq, event.prev_hash = moved
        event.detail = json.loads(json.dumps(event.detail))  # as it will read back
        event.hash = event_hash(event.prev_hash, event)
        event.save(using=db)
        connection = connections[db]
        with connection.cursor() as cursor:  # as _advance: one plain statement while locked
            cursor.execute(
                f"UPDATE {_head_table(connection)} SET hash = %s WHERE id = %s",  # noqa: S608
                [event.hash, HEAD_PK],
            )
    return event


def _head_table(connection: Any) -> str:
    """The head's table name, the model's own, quoted for this database."""
    return str(connection.ops.quote_name(AuditChainHead._meta.db_table))


def _advance(db: str) -> tuple[int, str] | None:
    """Move the head on by one and return its new seq and the hash it points to (None: no head
    yet), in one statement where the database can return rows from an UPDATE."""
    connection = connections[db]
    table = _head_table(connection)
    if connection.features.can_return_columns_from_insert:  # PostgreSQL, SQLite 3.35 and later
        with connection.cursor() as cursor:
            cursor.execute(
                # The table name is the model's own, quoted; the only value is a parameter.
                f"UPDATE {table} SET seq = seq + 1 WHERE id = %s RETURNING seq, hash",  # noqa: S608
                [HEAD_PK],
            )
            row = cursor.fetchone()
        return (row[0], row[1]) if row else None
    heads = AuditChainHead.objects.using(db)
    if not heads.filter(pk=HEAD_PK).update(seq=F("seq") + 1):
        return None
    head = heads.get(pk=HEAD_PK)
    return head.seq, head.hash


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    broken_at: int | None = None
    """the seq of the first event that does not hold, if any"""
    message: str = ""


def _chained(up_to: int) -> Iterator[AuditEvent]:
    """The chained events in order up to the head read at the start (events appended while the
    walk runs are not half-counted), a chunk at a time (a million events fit in little memory)."""
    last = 0
    while last < up_to:
        chunk = list(
            AuditEvent.objects.filter(seq__gt=last, seq__lte=up_to).order_by("seq")[:CHUNK]
        )
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].seq or last


def verify() -> Verdict:
    """Walk the chain from the first event; stop at the first broken link and say what broke."""
    head = AuditChainHead.objects.filter(pk=HEAD_PK).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    expected_seq, prev = 1, GENESIS
    checked = 0

    def broken(seq: int | None, message: str) -> Verdict:
        return Verdict(False, checked, head_seq, head_hash, seq, message)

    for event in _chained(head_seq):
        if event.seq != expected_seq:
            if event.seq is not None and event.seq > expected_seq:
                return broken(
                    expected_seq,
                    f"events {expected_seq} to {event.seq - 1} are missing "
                    f"(deleted): the next one kept is {event.seq} (id {event.pk})",
                )
            return broken(event.seq, f"event {event.seq} (id {event.pk}) is out of order")
        if event.prev_hash != prev:
            return broken(
                event.seq,
                f"event {event.seq} (id {event.pk}) does not follow the "
                "event before it (its prev_hash differs): an event was replaced",
            )
        if event_hash(prev, event) != event.hash:
            return broken(
                event.seq,
                f"event {event.seq} (id {event.pk}, {event.action} "
                f"{event.object_type}:{event.object_id}) was changed after it was "
                "written: its content no longer gives its hash",
            )
        prev, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    if checked != head_seq or prev != head_hash:
        return broken(
            checked + 1,
            f"the chain ends at event {checked}, but the head says "
            f"{head_seq}: events at the end were deleted, or the head was changed",
        )
    # The migration chained every event written before the chain; one without a place was
    # inserted behind the app's back.
    stray = AuditEvent.objects.filter(seq__isnull=True).order_by("pk").first()
    if stray is not None:
        return broken(
            None,
            f"event id {stray.pk} ({stray.action} {stray.object_type}:{stray.object_id}) is "
            "outside the chain: it was inserted behind the app's back",
        )
    return Verdict(True, checked, head_seq, head_hash, None, f"{checked} events verified")
