"""`isoguard backup` and `isoguard restore`, for SQLite and PostgreSQL.

SQLite: SQLite's online backup API copies a consistent snapshot while the app serves, and a
restore copies a backup into the live file the same way (one transaction on the destination).
PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --single-transaction`, with the
connection of DATABASE_URL (the client tools come with Debian's `postgresql-client`).

A restore checks the file first (a SQLite file passes `PRAGMA integrity_check` and holds
isoguard's tables), then checks the audit hash chain of what it restored and says so.
Stop the app servers and the reminder worker before restoring.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from django.db import connection


class BackupError(Exception):
    """The backup or restore could not be done; the message says why."""


def _settings() -> dict[str, Any]:
    return connection.settings_dict


def vendor() -> str:
    return connection.vendor


def backup(target: Path) -> Path:
    """Write a consistent copy of the database to `target` (replacing it only when done)."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=".isoguard-backup-")
    os.close(handle)
    try:
        if vendor() == "sqlite":
            source = sqlite3.connect(_settings()["NAME"])
            copy = sqlite3.connect(tmp)
            with copy:
                source.backup(copy)
            copy.close()
            source.close()
        elif vendor() == "postgresql":
            _pg("pg_dump", "--format=custom", "--no-owner", f"--file={tmp}")
        else:  # pragma: no cover - settings allow only these two
            raise BackupError(f"no backup for the {vendor()} database")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def restore(source: Path) -> None:
    """Replace the database's content with the backup's (all or nothing)."""
    source = source.resolve()
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    connection.close()
    if vendor() == "sqlite":
        _check_sqlite_backup(source)
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
