"""Test settings: the real ones, with a fast password hasher and plain static files."""

from __future__ import annotations

from isoguard.settings import *  # noqa: F403
from isoguard.settings import STORAGES

# Argon2 is the production hasher (a test checks it); tests create many users, so hash quickly.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests never run collectstatic: WhiteNoise serves the apps' static folders through the finders.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

# A file (not an in-memory) SQLite test database, so that threads in the concurrency tests get
# connections of their own, with WAL and the busy timeout, as the server does.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-isoguard.sqlite3")}  # noqa: F405

# The test client and the browser tests' live server speak plain HTTP, whatever
# ISOGUARD_ALLOWED_HOSTS the shell has; tests/accounts/test_security.py checks the HTTPS settings
# in a fresh process with the production environment.
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

# A "replica" that is a second connection to the test database, for the read-replica test only
# (ISOGUARD_USE_REPLICA stays off unless a test turns it on).
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
