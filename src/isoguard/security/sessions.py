"""Django's database sessions, with the session key checked before it reaches the database.

A cookie `sessionid="\\000..."` is unquoted by Python's cookie parser to a NUL character, which
PostgreSQL cannot hold in text: the lookup failed with a server error on every page. A key that
Django could not have made ([a-z0-9], 8 to 40 characters) is treated as no session at all.
"""

from __future__ import annotations

import re

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

KEY = re.compile(r"[a-z0-9]{8,40}")


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key: str | None) -> bool:
        return bool(key) and KEY.fullmatch(key) is not None  # type: ignore[arg-type]
