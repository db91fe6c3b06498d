"""The audit trail is a hash chain: every kind of edit behind the app's back is caught and named,
appends from many threads at once make one unbroken chain, and a rolled-back change leaves no
event and no gap."""

from __future__ import annotations

import itertools
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from isoguard.audit.chain import GENESIS, verify
from isoguard.audit.models import AuditChainHead, AuditEvent
from isoguard.audit.services import audit_record
from isoguard.demo import create_demo


@pytest.fixture
def trail(db):
    """The demo writes a few hundred events through the app's own services."""
    create_demo(timezone.localdate())
    assert AuditEvent.objects.count() > 20
    return list(AuditEvent.objects.order_by("seq"))


def raw(sql: str, params: list) -> None:
    """An edit behind the app's back: plain SQL on the table."""
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("{table}", AuditEvent._meta.db_table), params)


def test_the_demo_trail_verifies(trail):
    verdict = verify()
    assert verdict.ok, verdict.message
    assert verdict.checked == len(trail) == AuditChainHead.objects.get().seq
    assert trail[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(trail))


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("reason", "nothing to see"),
        ("outcome", "refused"),
        ("actor_username", "someone.else"),
        ("object_id", "999"),
        ("patient_id", 424242),
        ("detail", '{"allowed": true}'),
    ],
)
def test_an_edited_event_is_named(trail, column, value):
    target = next(e for e in trail[len(trail) // 2 :] if e.outcome == "allowed")
    raw(f"UPDATE {{table}} SET {column} = %s WHERE id = %s", [value, target.pk])  # noqa: S608
    verdict = verify()
    assert not verdict.ok
    assert verdict.broken_at == target.seq
    assert "was changed after it was written" in verdict.message


def test_an_edited_time_is_caught(trail):
    target = trail[3]
    raw("UPDATE {table} SET at = %s WHERE id = %s", [timezone.now(), target.pk])
    assert verify().broken_at == target.seq


def test_a_deleted_event_is_named(trail):
    target = trail[10]
    raw("DELETE FROM {table} WHERE id = %s", [target.pk])
    verdict = verify()
    assert (verdict.ok, verdict.broken_at) == (False, target.seq)
    assert "missing" in verdict.message


def test_deleting_the_last_events_is_caught(trail):
    raw("DELETE FROM {table} WHERE seq > %s", [trail[-3].seq])
    verdict = verify()
    assert not verdict.ok and "the chain ends" in verdict.message


def test_a_rehashed_edit_still_breaks_the_next_link(trail):
    """Someone who edits an event and fixes its hash breaks the link to the event after it."""
    from isoguard.audit.chain import event_hash

    target = AuditEvent.objects.get(pk=trail[5].pk)
    target.reason = "rewritten"
    new_hash = event_hash(target.prev_hash, target)
    raw(
        "UPDATE {table} SET reason = %s, hash = %s WHERE id = %s",
        ["rewritten", new_hash, target.pk],
    )
    verdict = verify()
    assert verdict.broken_at == trail[6].seq
    assert "does not follow" in verdict.message


def test_the_command_says_intact_or_names_the_break(trail, capsys):
    call_command("audit", "verify")
    assert "audit chain intact" in capsys.readouterr().out
    raw("UPDATE {table} SET action = %s WHERE id = %s", ["view", trail[2].pk])
    with pytest.raises(CommandError, match=f"broken at event {trail[2].seq}"):
        call_command("audit", "verify")


def test_a_rolled_back_change_leaves_no_event_and_no_gap(trail):
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=None, action="create", object_type="x", object_id="1")
        raise RuntimeError("the change failed")
    audit_record(actor=None, action="create", object_type="x", object_id="2")
    assert verify().ok
    assert not AuditEvent.objects.filter(object_type="x", object_id="1").exists()


@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_appending_at_once_make_one_chain():
    start = threading.Barrier(16)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                with transaction.atomic():
                    audit_record(actor=None, action="view", object_type="t", object_id=f"{n}-{i}")
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    verdict = verify()
    assert verdict.ok, verdict.message
    assert AuditEvent.objects.filter(object_type="t").count() == 160


def test_an_event_inserted_behind_the_apps_back_is_named(trail):
    raw(
        "INSERT INTO {table} (at, actor_username, action, object_type, object_id, outcome, "
        "reason, detail, path, prev_hash, hash) VALUES (%s, '', 'view', 'x', '1', 'allowed', '', "
        "%s, '', '', '')",
        [timezone.now(), "{}"],
    )
    verdict = verify()
    assert not verdict.ok and "outside the chain" in verdict.message


def test_events_appended_during_the_walk_are_not_taken_for_a_cut_off_end(trail, monkeypatch):
    from isoguard.audit import chain

    walk = chain._chained

    def appending_meanwhile(up_to):
        audit_record(actor=None, action="view", object_type="x", object_id="meanwhile")
        yield from walk(up_to)

    monkeypatch.setattr(chain, "_chained", appending_meanwhile)
    assert verify().ok
