"""`isoguard backup` and `isoguard restore`, for SQLite and PostgreSQL.

SQLite: SQLite's online backup API copies a consistent snapshot while the app serves, and a
restore copies a backup into the live file the same way (one transaction on the destination).
PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --single-transaction`, with the
connection of DATABASE_URL (the client tools come with Debian's `postgresql-client`).

`backup` returns the audit chain head as it is in the backup itself (not the live one, which
moves on while the app serves), so the hash an operator keeps matches the file:
- SQLite: read from the copy once it is written;
- PostgreSQL: read in the snapshot pg_dump dumps (a REPEATABLE READ transaction exports it with
  `pg_export_snapshot()` and stays open until pg_dump, given `--snapshot`, is done).

A restore checks the file first (a SQLite file passes `PRAGMA integrity_check` and holds
isoguard's tables). After copying it, it deletes every session (sessions stored in the backup
would otherwise be logged in again) and appends a `restore` event to the restored audit chain,
naming the file, the head in the backup and the head the live database had before.
Stop the app servers and the reminder worker before restoring.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from django.contrib.sessions.models import Session
from django.db import DatabaseError, connection, connections, transaction

from isoguard.audit.chain import GENESIS, HEAD_PK
from isoguard.audit.models import AuditChainHead
from isoguard.audit.services import audit_record

# Read outside the ORM (the SQLite copy, pg_dump's snapshot); the names are the model's own.
HEAD_SQL = f"SELECT seq, hash FROM {AuditChainHead._meta.db_table} WHERE id = {HEAD_PK}"  # noqa: S608


class BackupError(Exception):
    """The backup or restore could not be done; the message says why."""


class Head(NamedTuple):
    """An audit chain head: the last event's place and hash ((0, GENESIS) for no event yet)."""

    seq: int
    hash: str

    def as_detail(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash}


@dataclass(frozen=True)
class Restored:
    """What a restore did, for the command to say."""

    backup_head: Head
    head_before: Head | None
    """the live database's head before the restore; None when it could not be read"""
    sessions_deleted: int


def _settings() -> dict[str, Any]:
    return connection.settings_dict


def vendor() -> str:
    return connection.vendor


def backup(target: Path) -> tuple[Path, Head]:
    """Write a consistent copy of the database to `target` (replacing it only when done); return
    it and the audit head in the copy."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=".isoguard-backup-")
    os.close(handle)
    try:
        if vendor() == "sqlite":
            head = _sqlite_backup(Path(tmp))
        elif vendor() == "postgresql":
            head = _pg_dump(Path(tmp))
        else:  # pragma: no cover - settings allow only these two
            raise BackupError(f"no backup for the {vendor()} database")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target, head


def _sqlite_backup(tmp: Path) -> Head:
    """Copy the live file with the online backup API; the head is read from the copy, since the
    live one may have moved on by the time the copy is done."""
    source = sqlite3.connect(_settings()["NAME"])
    copy = sqlite3.connect(tmp)
    try:
        with copy:
            source.backup(copy)
        try:
            row = copy.execute(HEAD_SQL).fetchone()
        except sqlite3.DatabaseError as error:
            raise BackupError(f"the copy has no audit chain head ({error}): is the database "
                              "migrated (`isoguard migrate`)?") from None  # fmt: skip
    finally:
        copy.close()
        source.close()
    return Head(row[0], row[1]) if row else Head(0, GENESIS)


def _pg_dump(tmp: Path) -> Head:
    """pg_dump in a snapshot exported by a connection of our own, and the head read in that same
    snapshot, so the head is exactly the dump's while the app goes on writing. The exporting
    transaction must stay open until pg_dump is done, or the snapshot is gone."""
    # A connection of its own: the thread's may be inside a transaction already, where the
    # isolation level can no longer be chosen.
    own = connections.create_connection(connection.alias)
    try:
        with own.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
            cursor.execute(HEAD_SQL)
            row = cursor.fetchone()
            _pg("pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}",
                f"--file={tmp}")  # fmt: skip
            cursor.execute("ROLLBACK")  # it only read
    finally:
        own.close()
    return Head(row[0], row[1]) if row else Head(0, GENESIS)


def restore(source: Path) -> Restored:
    """Replace the database's content with the backup's (all or nothing), then log everyone out
    and audit the restore on the restored chain."""
    source = source.resolve()
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    if vendor() == "sqlite":
        _check_sqlite_backup(source)
    head_before = _live_head()
    connection.close()
    if vendor() == "sqlite":
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        live = sqlite3.connect(_settings()["NAME"], timeout=30)
        try:
            backup_db.backup(live)
        finally:
            live.close()
            backup_db.close()
    elif vendor() == "postgresql":
        _pg("pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
            "--exit-on-error", str(source), database_flag=True)  # fmt: skip
    connection.close()
    return _after_restore(source, head_before)


def _live_head() -> Head | None:
    """The live database's head before it is replaced, for the restore's audit event; None when
    the database cannot be read (restoring is how one recovers from that)."""
    try:
        head = AuditChainHead.objects.filter(pk=HEAD_PK).first()
    except DatabaseError:
        connection.close()
        return None
    return Head(head.seq, head.hash) if head else Head(0, GENESIS)


def _after_restore(source: Path, head_before: Head | None) -> Restored:
    """Delete every session (those in the backup would log their users in again) and append the
    `restore` event, in one transaction. The head read first is the backup's own."""
    try:
        with transaction.atomic():
            head = AuditChainHead.objects.filter(pk=HEAD_PK).first()
            backup_head = Head(head.seq, head.hash) if head else Head(0, GENESIS)
            deleted, _ = Session.objects.all().delete()
            audit_record(
                actor=None,
                action="restore",
                object_type="backup",
                detail={
                    "file": source.name,
                    "backup_head": backup_head.as_detail(),
                    "head_before": head_before.as_detail() if head_before else None,
                    "sessions_deleted": deleted,
                },
            )
    except DatabaseError as error:
        raise BackupError(f"{source}: restored, but deleting the sessions and auditing the "
                          f"restore failed ({error}); restore again") from None  # fmt: skip
    return Restored(backup_head, head_before, deleted)


def _check_sqlite_backup(source: Path) -> None:
    try:
        db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            (result,) = db.execute("PRAGMA integrity_check").fetchone()
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            db.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{source}: not a SQLite database ({error})") from None
    if result != "ok":
        raise BackupError(f"{source}: the file is damaged ({result})")
    if not {"django_migrations", "audit_auditevent", "patients_patient"} <= tables:
        raise BackupError(f"{source}: not an isoguard database (its tables are missing)")


def _pg(tool: str, *args: str, database_flag: bool = False) -> None:
    binary = shutil.which(tool, path=os.environ.get("ISOGUARD_PG_BIN") or None) or shutil.which(
        tool
    )
    if binary is None:
        raise BackupError(f"{tool} was not found: install postgresql-client (Debian) or set "
                          "ISOGUARD_PG_BIN to the folder that holds it")  # fmt: skip
    conf = _settings()
    env = {
        **os.environ,
        "PGHOST": str(conf.get("HOST") or ""),
        "PGPORT": str(conf.get("PORT") or ""),
        "PGUSER": str(conf.get("USER") or ""),
        "PGPASSWORD": str(conf.get("PASSWORD") or ""),
        "PGDATABASE": str(conf["NAME"]),
    }
    command = [binary, *args]
    if database_flag:
        command.insert(1, f"--dbname={conf['NAME']}")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
