"""Django settings for isoguard, read from the environment with safe defaults.

Defaults suit one clinic machine: SQLite in `var/`, DEBUG off, a secret key generated once
and kept in `var/secret_key`. Set DATABASE_URL=postgres://... for PostgreSQL.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import zoneinfo
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent


def default_var_dir() -> Path:
    """Return var/ of the source checkout (where `make run` keeps data), else of the cwd."""
    checkout = BASE_DIR.parents[1]
    if (checkout / "pyproject.toml").exists() and (checkout / "src" / "isoguard").is_dir():
        return checkout / "var"
    return Path.cwd() / "var"


VAR_DIR = Path(os.environ.get("ISOGUARD_VAR_DIR", "") or default_var_dir()).resolve()


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no setting, refusing anything that is not clearly one or the other."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: use one of 1, true, yes, on, 0, false, no, off")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_choice(name: str, default: str, allowed: set[str], what: str) -> str:
    """Read a setting that must be one of `allowed`, naming the variable when it is not."""
    value = os.environ.get(name, "") or default
    if value not in allowed:
        raise ImproperlyConfigured(f"{name}={value!r} is not {what}")
    return value


def env_days(name: str, default: int, low: int, high: int) -> int:
    """Read a whole number of days in [low, high], naming the variable when it is not."""
    raw = os.environ.get(name, "") or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number of days, {low} to {high}")
    return int(raw)


def env_int(name: str, default: int, low: int, high: int, unit: str) -> int:
    """Read a whole number of `unit` in [low, high], naming the variable when it is not."""
    raw = os.environ.get(name, "") or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a whole number of {unit}, {low} to {high}"
        )
    return int(raw)


def env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, "") or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a port number, 1 to 65535")
    return int(raw)


def env_seconds(name: str, default: float, high: float) -> float:
    """Read a number of seconds, more than 0 and at most `high`, naming the variable if not."""
    raw = os.environ.get(name, "") or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= high:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number of seconds, above 0 to {high}")
    return value


def secret_key() -> str:
    """Return DJANGO_SECRET_KEY, or a key generated once and kept (mode 0600) under var/."""
    key = os.environ.get("DJANGO_SECRET_KEY", "")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def env_json_object(name: str) -> dict[str, object]:
    raw = os.environ.get(name, "")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ImproperlyConfigured(f"{name}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{name}: must be a JSON object")
    return value


def env_date(name: str) -> datetime.date | None:
    raw = os.environ.get(name, "")
    if not raw:
        return None
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a date YYYY-MM-DD") from None


def screening_overrides() -> dict[str, object]:
    """Return the clinic's changes to unconfirmed screening severities (docs/screening.md)."""
    from isoguard.core.screening import OverrideError, checked_overrides

    overrides = env_json_object("ISOGUARD_SCREENING_OVERRIDES")
    try:
        checked_overrides(overrides)  # type: ignore[arg-type]
    except OverrideError as error:
        raise ImproperlyConfigured(f"ISOGUARD_SCREENING_OVERRIDES: {error}") from None
    return overrides


def pack_settings() -> dict[str, dict[str, dict[str, object]]]:
    """Return the clinic's changes to unconfirmed programme rules, by pack (docs/programmes.md)."""
    from isoguard.core.programs.packs import PackSettingError, load_pack, pack_with_settings

    raw = env_json_object("ISOGUARD_PACK_SETTINGS")
    for pack_id, changes in raw.items():
        try:
            if not isinstance(changes, dict) or not all(
                isinstance(v, dict) for v in changes.values()
            ):
                raise PackSettingError("expected {rule id: {parameter: value}}")
            pack_with_settings(load_pack(pack_id), changes)
        except (ValueError, PackSettingError) as error:
            raise ImproperlyConfigured(f"ISOGUARD_PACK_SETTINGS: {pack_id}: {error}") from None
    return raw  # type: ignore[return-value]


def helpline_overrides() -> dict[str, object]:
    """Return the clinic's own emergency and crisis numbers, by country (docs/triage.md)."""
    from isoguard.core.helplines import helplines_for
    from isoguard.core.knowledge.loading import KnowledgeError

    overrides = env_json_object("ISOGUARD_HELPLINE_OVERRIDES")
    try:
        helplines_for(None, "US", overrides=overrides)  # type: ignore[arg-type]
    except (KnowledgeError, ValueError, TypeError) as error:
        raise ImproperlyConfigured(f"ISOGUARD_HELPLINE_OVERRIDES: {error}") from None
    return overrides


def lab_schedule() -> dict[str, str]:
    """The clinic's lab schedule by pack: ISOGUARD_LAB_SCHEDULE is one schedule id for every pack,
    or a JSON object of pack to id (docs/monitoring.md). Unset: the sources' default."""
    from isoguard.core.labs import load_labs
    from isoguard.core.vocabulary import RulePack

    labs = load_labs()
    allowed = [o.id for o in labs.schedule.option]
    raw = os.environ.get("ISOGUARD_LAB_SCHEDULE", "").strip()
    chosen: dict[str, object] = {pack.value: labs.schedule.default for pack in RulePack}
    if raw.startswith("{"):
        chosen.update(env_json_object("ISOGUARD_LAB_SCHEDULE"))
    elif raw:
        chosen = {pack: raw for pack in chosen}
    for pack, schedule in chosen.items():
        if pack not in {p.value for p in RulePack} or schedule not in allowed:
            raise ImproperlyConfigured(
                f"ISOGUARD_LAB_SCHEDULE: {pack}={schedule!r}; packs are "
                f"{', '.join(p.value for p in RulePack)} and schedules {', '.join(allowed)}"
            )
    return chosen  # type: ignore[return-value]


def lab_thresholds() -> dict[str, object]:
    """The clinic's lab thresholds (ISOGUARD_LAB_THRESHOLDS), checked at start-up."""
    from isoguard.core.knowledge.loading import KnowledgeError
    from isoguard.core.labs import threshold_overrides

    raw = env_json_object("ISOGUARD_LAB_THRESHOLDS")
    try:
        threshold_overrides(raw)  # type: ignore[arg-type]
    except (KnowledgeError, ValueError) as error:
        raise ImproperlyConfigured(f"ISOGUARD_LAB_THRESHOLDS: {error}") from None
    return raw


DEBUG = env_bool("ISOGUARD_DEBUG", False)
# Clinical settings: each changes a value the sources do not confirm (docs/screening.md).
ISOGUARD_SCREENING_OVERRIDES = screening_overrides()
ISOGUARD_US_IPLEDGE_2026_START = env_date("ISOGUARD_US_IPLEDGE_2026_START")
ISOGUARD_PACK_SETTINGS = pack_settings()
ISOGUARD_HELPLINE_OVERRIDES = helpline_overrides()
# Mood questionnaire every N days while screening or on treatment: the label asks for mood to be
# assessed at each visit (docs/knowledge/clinical.md 5.1), and visits are monthly (the 30-day
# prescriptions); the UK pack refuses a prescription without an assessment within 30 days.
ISOGUARD_MOOD_CHECK_DAYS = env_days("ISOGUARD_MOOD_CHECK_DAYS", 30, 1, 365)
ISOGUARD_LAB_SCHEDULE = lab_schedule()
ISOGUARD_LAB_THRESHOLDS = lab_thresholds()
# CDS Hooks (isoguard.interop.cdshooks): the EHRs trusted to call, as a JSON object issuer ->
# {"keys": [PEM or JWK, ...], "algorithms": ["ES384", ...], "clinic_id": N,
# "identifier_system": "...", "fhir_servers": ["https://..."]}; {} trusts none. The audience is
# isoguard's base URL as the EHR calls it (e.g. https://isoguard.example.org); empty: taken from
# the request.
ISOGUARD_CDS_ISSUERS = env_json_object("ISOGUARD_CDS_ISSUERS")
ISOGUARD_CDS_AUDIENCE = os.environ.get("ISOGUARD_CDS_AUDIENCE", "").rstrip("/")
# How long a read of the EHR's FHIR server may take when the CDS Hooks prefetch leaves data out
# (each read, in seconds; a slower answer is a 412, or a warning card for optional data).
ISOGUARD_CDS_FHIR_TIMEOUT = env_seconds("ISOGUARD_CDS_FHIR_TIMEOUT", 5.0, 30.0)
SECRET_KEY = secret_key()
ALLOWED_HOSTS = env_list("ISOGUARD_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("ISOGUARD_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",  # serves its API docs from local static files, not a CDN
    "isoguard.accounts",
    "isoguard.patients",
    "isoguard.courses",
    "isoguard.audit",
    "isoguard.screenings",
    "isoguard.reminders",
    "isoguard.interop.cdshooks",
    "isoguard.web",
    "isoguard.operations",
    "axes",  # login throttling and lockout (docs/security.md)
    "django_otp",
    "django_otp.plugins.otp_totp",
    "isoguard.security",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "isoguard.operations.middleware.RequestSizeLimitMiddleware",
    "isoguard.security.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "isoguard.operations.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "isoguard.security.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the login page's message
]

ROOT_URLCONF = "isoguard.urls"
SESSION_ENGINE = "isoguard.security.sessions"  # database sessions, keys checked
WSGI_APPLICATION = "isoguard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_config() -> dict[str, object]:
    """Return DATABASE_URL's database, or SQLite in var/ with WAL journaling."""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        if not url.startswith(("postgres://", "postgresql://", "sqlite://")):
            raise ImproperlyConfigured(
                f"DATABASE_URL must start with postgres://, postgresql:// or sqlite://, got {url!r}"
            )
        return database_from_url(url)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(VAR_DIR / "isoguard.sqlite3"),
        "CONN_MAX_AGE": _CONNECTION_SECONDS,
        "CONN_HEALTH_CHECKS": True,
        **sqlite_options(),
    }


_CONNECTION_SECONDS = 60
"""Each thread keeps its database connection this long between requests, on SQLite as on
PostgreSQL: opening one (and its PRAGMAs) was a third of a small request's time
(docs/benchmarks.md)."""


def database_from_url(url: str) -> dict[str, object]:
    """A database URL's settings, with the options of its engine (the URL's own kept)."""
    config = dj_database_url.parse(url, conn_max_age=_CONNECTION_SECONDS, conn_health_checks=True)
    if config["ENGINE"].endswith("sqlite3"):
        config.update(sqlite_options())
    else:
        config.setdefault("OPTIONS", {}).update(postgres_options())
    return config


def postgres_options() -> dict[str, object]:
    # Prepared statements: psycopg prepares a statement on the server once it has run five times
    # on a connection, so PostgreSQL parses and plans it once, not at every request (it cut the
    # server's CPU for a dispense authorisation by two fifths: docs/benchmarks.md). It needs
    # Django's server-side parameter binding, which the record reader's one-round-trip reads
    # need too (operations/prepared.py). Set ISOGUARD_DB_PREPARED=0 behind a pooler in transaction
    # mode that cannot keep prepared statements (PgBouncer before 1.21, or without
    # max_prepared_statements): docs/deployment.md.
    if not env_bool("ISOGUARD_DB_PREPARED", True):
        return {}
    return {"server_side_binding": True, "prepare_threshold": 5}


def sqlite_options() -> dict[str, object]:
    # WAL lets readers run while one writer commits; IMMEDIATE takes the write lock at the start
    # of a transaction, so two writers queue (busy timeout) instead of failing half-way.
    return {
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    }


DATABASES = {"default": database_config()}
# A read replica of DATABASE_URL for the exports (operations/routers.py, docs/deployment.md).
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = database_from_url(os.environ["DATABASE_REPLICA_URL"])
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["isoguard.operations.routers.ReportsRouter"]
ISOGUARD_USE_REPLICA = "replica" in DATABASES

# Request bodies: 413 over these (operations/middleware.py); Django's own limit matches the larger.
ISOGUARD_MAX_REQUEST_BYTES = env_int(
    "ISOGUARD_MAX_REQUEST_BYTES", 1_000_000, 10_000, 100_000_000, "bytes"
)
ISOGUARD_MAX_IMPORT_BYTES = env_int(
    "ISOGUARD_MAX_IMPORT_BYTES", 10_000_000, 10_000, 500_000_000, "bytes"
)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(ISOGUARD_MAX_REQUEST_BYTES, ISOGUARD_MAX_IMPORT_BYTES)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Axes first: it refuses a locked-out username and address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Accounts under attack (docs/security.md). ISOGUARD_HTTPS is on for a real deployment: unless
# DEBUG is on or every allowed host is this machine (`make run` serves http://127.0.0.1:8000),
# cookies go over HTTPS only, http:// is redirected to https:// and HSTS is sent. Each can be set
# on its own.
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
ISOGUARD_HTTPS = env_bool("ISOGUARD_HTTPS", not DEBUG and not set(ALLOWED_HOSTS) <= LOOPBACK_HOSTS)
SESSION_COOKIE_SECURE = env_bool("ISOGUARD_SECURE_COOKIES", ISOGUARD_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("ISOGUARD_SSL_REDIRECT", ISOGUARD_HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer's health check may use plain HTTP
SECURE_HSTS_SECONDS = env_int(
    "ISOGUARD_HSTS_SECONDS", 31_536_000 if ISOGUARD_HTTPS else 0, 0, 63_072_000, "seconds"
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("ISOGUARD_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("ISOGUARD_HSTS_PRELOAD", True)
# Behind a reverse proxy that terminates HTTPS: trust its X-Forwarded-Proto, and take the client's
# address for the login lockout from the last X-Forwarded-For entry (the one the proxy added).
ISOGUARD_BEHIND_PROXY = env_bool("ISOGUARD_BEHIND_PROXY", False)
if ISOGUARD_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * env_int("ISOGUARD_SESSION_HOURS", 8, 1, 24, "hours")
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sent on every response (isoguard.security.middleware): isoguard's own scripts, styles and
# images only. The hashes allow three fixed inline snippets and nothing else: htmx's indicator
# <style>, the summary's onclick="window.print()" and the narrow card's style="max-width: 28rem".
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-hashes' 'sha256-MguIPR6qNR8D3B+eAlK+bIRTZe8t3wkOY4B/56Me9FU='",
        "style-src 'self' 'unsafe-hashes' 'sha256-faU7yAF8NxuMTNEwVmBz+VcYeIoBQ2EMHW3WaVxCvnk=' "
        "'sha256-c2Etb1eK7wQQ0oa18JGfgpIMNKeYFNZKLYMMFFTSyuE='",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# Login lockout (django-axes): a username is locked out from one address after
# ISOGUARD_LOGIN_FAILURE_LIMIT wrong passwords in a row, for ISOGUARD_LOGIN_COOLOFF_MINUTES;
# `isoguard axes_reset_username NAME` unlocks it sooner. A good password clears the count.
AXES_FAILURE_LIMIT = env_int("ISOGUARD_LOGIN_FAILURE_LIMIT", 5, 1, 100, "failed log-ins")
AXES_COOLOFF_TIME = datetime.timedelta(
    minutes=env_int("ISOGUARD_LOGIN_COOLOFF_MINUTES", 15, 1, 1440, "minutes")
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the time shown on the page holds
AXES_DISABLE_ACCESS_LOG = True  # the audit trail records every log-in and log-out
AXES_LOCKOUT_CALLABLE = "isoguard.security.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "isoguard.security.lockout.client_ip"
AXES_VERBOSE = False

# Two-factor login (django-otp, TOTP): optional for staff, or required with this setting.
ISOGUARD_REQUIRE_2FA_FOR_STAFF = env_bool("ISOGUARD_REQUIRE_2FA_FOR_STAFF", False)
# Refused API tokens from one address before further refused ones get 429s until the window
# ends (security/token_throttle.py, docs/security.md).
ISOGUARD_TOKEN_FAILURES_LIMIT = env_int("ISOGUARD_TOKEN_FAILURES_LIMIT", 20, 1, 10_000, "tokens")
ISOGUARD_TOKEN_FAILURES_WINDOW_MINUTES = env_int(
    "ISOGUARD_TOKEN_FAILURES_WINDOW_MINUTES", 10, 1, 1440, "minutes"
)
OTP_TOTP_ISSUER = "isoguard"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

LANGUAGE_CODE = "en"
TIME_ZONE = env_choice(
    "ISOGUARD_TIME_ZONE",
    "America/New_York",
    zoneinfo.available_timezones(),
    "an IANA time zone such as Europe/London",
)
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Reminders (docs/reminders.md). E-mail goes through Django's mail backends: the console backend
# (messages written to the log) until ISOGUARD_EMAIL_BACKEND names another, such as SMTP.
EMAIL_BACKEND = (
    os.environ.get("ISOGUARD_EMAIL_BACKEND", "") or "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = os.environ.get("ISOGUARD_EMAIL_HOST", "") or "localhost"
EMAIL_PORT = env_port("ISOGUARD_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("ISOGUARD_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("ISOGUARD_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("ISOGUARD_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("ISOGUARD_EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("ISOGUARD_EMAIL_USE_TLS and ISOGUARD_EMAIL_USE_SSL: set one only")
EMAIL_TIMEOUT = 30
ISOGUARD_REMINDER_FROM = (
    os.environ.get("ISOGUARD_REMINDER_FROM", "") or "isoguard <reminders@localhost>"
)
# A dotted path to a class with send_sms(to, text); the default writes each message to the log.
ISOGUARD_SMS_BACKEND = (
    os.environ.get("ISOGUARD_SMS_BACKEND", "") or "isoguard.reminders.channels.ConsoleSmsBackend"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice(
            "ISOGUARD_LOG_LEVEL",
            "WARNING",
            {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"},
            "one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
        ),
    },
}
