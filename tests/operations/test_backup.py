"""`isoguard backup` and `isoguard restore`: a round trip on the suite's database (SQLite or
PostgreSQL) gives back exactly what was backed up, with its audit chain intact; the restore is
audited on the restored chain and logs everyone out; the backup names the head in the backup."""

from __future__ import annotations

import hashlib
import json
import os
import re

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.audit.chain import verify
from isoguard.audit.models import AuditChainHead, AuditEvent
from isoguard.audit.services import audit_record
from isoguard.demo import create_demo
from isoguard.operations import backup as backup_module
from isoguard.patients.models import Patient

HEAD_LINE = re.compile(r"audit head in the backup (\d+) ([0-9a-f]{64})")


def snapshot() -> dict[str, str]:
    """A digest of every row of every isoguard table, but the restore's own audit event and the
    chain head it moved (checked on their own)."""
    digests = {}
    for model in apps.get_models():
        if not model.__module__.startswith("isoguard.") or model is AuditChainHead:
            continue
        rows = model.objects.order_by("pk")
        if model is AuditEvent:
            rows = rows.exclude(action="restore")
        text = json.dumps(list(rows.values()), sort_keys=True, default=str)
        digests[model._meta.label] = f"{rows.count()}:{hashlib.sha256(text.encode()).hexdigest()}"
    return digests


def head() -> dict[str, object]:
    verdict = verify()
    assert verdict.ok, verdict.message
    return {"seq": verdict.head_seq, "hash": verdict.head_hash}


def write_something(note: str) -> None:
    audit_record(actor=None, action="view", object_type="x", object_id=note)


@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_gives_back_exactly_what_was_backed_up(tmp_path, capsys):
    create_demo(timezone.localdate())
    before = snapshot()
    target = tmp_path / "isoguard.backup"
    call_command("backup", str(target))
    assert target.stat().st_size > 0
    assert HEAD_LINE.search(capsys.readouterr().out)
    # Life goes on after the backup: a new patient, more audit events.
    clinic = Patient.objects.first().clinic
    Patient.objects.create(clinic=clinic, given_name="New", family_name="Later",
                           birth_date="2000-01-01", jurisdiction="US")  # fmt: skip
    write_something("after the backup")
    assert snapshot() != before
    call_command("restore", str(target), "--yes")
    assert "audit chain intact" in capsys.readouterr().out
    connection.close()
    assert snapshot() == before
    assert not Patient.objects.filter(family_name="Later").exists()
    assert verify().ok
    # The restored database takes new writes, on the same chain.
    write_something("after the restore")
    assert verify().ok


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_without_yes_and_refuses_a_bad_file(tmp_path):
    create_demo(timezone.localdate())
    before = snapshot()
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", str(junk))
    with pytest.raises(CommandError):
        call_command("restore", str(junk), "--yes")
    with pytest.raises(CommandError, match="no such file"):
        call_command("restore", str(tmp_path / "missing"), "--yes")
    connection.close()
    assert snapshot() == before
    assert not AuditEvent.objects.filter(action="restore").exists()


@pytest.mark.django_db(transaction=True)
def test_restore_is_audited_on_the_restored_chain(tmp_path, capsys):
    create_demo(timezone.localdate())
    in_backup = head()
    target = tmp_path / "isoguard-2026-11-26.backup"
    call_command("backup", str(target))
    write_something("after the backup, lost by the restore")
    live_before = head()
    assert live_before != in_backup
    call_command("restore", str(target), "--yes")
    out = capsys.readouterr().out
    connection.close()

    event = AuditEvent.objects.get(action="restore")
    assert (event.actor, event.actor_username) == (None, "")  # a command-line action
    assert event.detail["file"] == "isoguard-2026-11-26.backup"
    assert event.detail["backup_head"] == in_backup
    assert event.detail["head_before"] == live_before
    # The next link of the backup's chain, and the head now.
    assert (event.seq, event.prev_hash) == (in_backup["seq"] + 1, in_backup["hash"])
    assert head() == {"seq": event.seq, "hash": event.hash}
    assert f"audit head in the backup {in_backup['seq']} {in_backup['hash']}" in out
    assert f"before the restore {live_before['seq']} {live_before['hash']}" in out
    call_command("audit", "verify")
    assert "audit chain intact" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_restore_over_an_unreadable_database_is_audited_without_the_head_before(tmp_path, capsys):
    create_demo(timezone.localdate())
    in_backup = head()
    target = tmp_path / "isoguard.backup"
    call_command("backup", str(target))
    with connection.cursor() as cursor:  # the live database, broken behind the app's back
        cursor.execute(f"DROP TABLE {AuditChainHead._meta.db_table}")
    connection.close()
    call_command("restore", str(target), "--yes")
    assert "before the restore unreadable" in capsys.readouterr().out
    connection.close()
    event = AuditEvent.objects.get(action="restore")
    assert event.detail["backup_head"] == in_backup
    assert event.detail["head_before"] is None
    assert verify().ok


@pytest.mark.django_db(transaction=True)
def test_restore_logs_everyone_out_even_sessions_in_the_backup(tmp_path, client, capsys):
    create_demo(timezone.localdate())
    client.force_login(User.objects.filter(role="prescriber").first())
    assert Session.objects.exists()
    target = tmp_path / "isoguard.backup"
    call_command("backup", str(target))  # the session is in the backup
    call_command("restore", str(target), "--yes")
    out = capsys.readouterr().out
    connection.close()
    assert not Session.objects.exists()
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert "everyone logs in again" in out
    assert AuditEvent.objects.get(action="restore").detail["sessions_deleted"] >= 1


@pytest.mark.django_db(transaction=True)
def test_backup_prints_the_head_in_the_backup_while_writes_go_on(tmp_path, monkeypatch, capsys):
    """Writes land while pg_dump runs (PostgreSQL) and after the copy is written (both): the head
    printed is the one in the file, which a restore of it gives back."""
    create_demo(timezone.localdate())
    in_backup = head()
    target = tmp_path / "isoguard.backup"
    real_pg, real_replace = backup_module._pg, os.replace

    def pg_while_writing(tool: str, *args: str, **kwargs: bool) -> None:
        if tool == "pg_dump":
            write_something("while pg_dump runs")
        real_pg(tool, *args, **kwargs)

    def replace_after_writing(source: str, destination: object) -> None:
        if destination == target:
            write_something("after the copy")
        real_replace(source, destination)

    monkeypatch.setattr(backup_module, "_pg", pg_while_writing)
    monkeypatch.setattr(os, "replace", replace_after_writing)
    call_command("backup", str(target))
    monkeypatch.undo()
    printed = HEAD_LINE.search(capsys.readouterr().out)
    assert printed is not None
    assert {"seq": int(printed[1]), "hash": printed[2]} == in_backup
    assert head()["seq"] > in_backup["seq"]  # the live chain moved on meanwhile

    call_command("restore", str(target), "--yes")
    connection.close()
    assert AuditEvent.objects.get(action="restore").detail["backup_head"] == in_backup
    assert not AuditEvent.objects.filter(object_id__startswith="while pg_dump").exists()
