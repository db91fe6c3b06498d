"""`isoguard backup` and `isoguard restore`: a round trip on the suite's database (SQLite or
PostgreSQL) gives back exactly what was backed up, with its audit chain intact."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from isoguard.audit.chain import verify
from isoguard.audit.services import audit_record
from isoguard.demo import create_demo
from isoguard.patients.models import Patient


def snapshot() -> dict[str, str]:
    """A digest of every row of every isoguard table."""
    digests = {}
    for model in apps.get_models():
        if not model.__module__.startswith("isoguard."):
            continue
        rows = list(model.objects.order_by("pk").values())
        text = json.dumps(rows, sort_keys=True, default=str)
        digests[model._meta.label] = f"{len(rows)}:{hashlib.sha256(text.encode()).hexdigest()}"
    return digests


@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_gives_back_exactly_what_was_backed_up(tmp_path, capsys):
    create_demo(timezone.localdate())
    before = snapshot()
    target = tmp_path / "isoguard.backup"
    call_command("backup", str(target))
    assert target.stat().st_size > 0
    assert "audit head" in capsys.readouterr().out
    # Life goes on after the backup: a new patient, more audit events.
    clinic = Patient.objects.first().clinic
    Patient.objects.create(clinic=clinic, given_name="New", family_name="Later",
                           birth_date="2000-01-01", jurisdiction="US")  # fmt: skip
    audit_record(actor=None, action="view", object_type="x", object_id="after the backup")
    assert snapshot() != before
    call_command("restore", str(target), "--yes")
    assert "audit chain intact" in capsys.readouterr().out
    connection.close()
    assert snapshot() == before
    assert not Patient.objects.filter(family_name="Later").exists()
    assert verify().ok
    # The restored database takes new writes, on the same chain.
    audit_record(actor=None, action="view", object_type="x", object_id="after the restore")
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
