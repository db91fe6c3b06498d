"""A read replica for reports: inside `reports_database()`, reads go to the `replica` database.

Set DATABASE_REPLICA_URL to a PostgreSQL streaming replica of DATABASE_URL and the exports (the
courses CSV, the patient summary) read from it, sparing the primary. Everything else, every write,
and every read inside a transaction that writes (the audit chain's head among them) stays on the
primary. A replica lags by a moment: an export may miss the last second's changes, never a
decision's, since no decision is taken from it. Without the setting, everything is on `default`.

The flag is a context variable: per request (and per thread), not state shared between requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings

REPLICA = "replica"
_reports: ContextVar[bool] = ContextVar("isoguard_reports", default=False)


@contextmanager
def reports_database() -> Iterator[None]:
    token = _reports.set(True)
    try:
        yield
    finally:
        _reports.reset(token)


class ReportsRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if _reports.get() and settings.ISOGUARD_USE_REPLICA:
            return REPLICA
        return None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != REPLICA  # the replica copies the primary; it is never migrated itself
