"""Configuration is read from the environment with safe defaults and loud errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from isoguard import settings as production


def settings_in_a_fresh_process(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import isoguard.settings as s; "
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'])"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ISOGUARD_DEBUG")}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**clean, "ISOGUARD_VAR_DIR": str(tmp_path), **env},
    )


def test_with_nothing_configured_debug_is_off_and_the_database_is_sqlite_in_var(tmp_path):
    result = settings_in_a_fresh_process(tmp_path)
    assert result.returncode == 0, result.stderr
    debug, engine, name = result.stdout.split()
    assert debug == "False"
    assert engine == "django.db.backends.sqlite3"
    assert name == str(tmp_path / "isoguard.sqlite3")
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_the_secret_key_is_generated_once_and_kept(tmp_path):
    settings_in_a_fresh_process(tmp_path)
    first = (tmp_path / "secret_key").read_text()
    settings_in_a_fresh_process(tmp_path)
    assert (tmp_path / "secret_key").read_text() == first and len(first) >= 50


def test_database_url_switches_to_postgresql(tmp_path):
    result = settings_in_a_fresh_process(
        tmp_path, DATABASE_URL="postgres://u:p@db.example:5432/iso"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[1:] == ["django.db.backends.postgresql", "iso"]


def test_an_unsupported_database_url_is_refused_with_what_is_allowed(tmp_path):
    result = settings_in_a_fresh_process(tmp_path, DATABASE_URL="mysql://u@h/db")
    assert result.returncode != 0
    assert "DATABASE_URL must start with postgres://, postgresql:// or sqlite://" in result.stderr


@pytest.mark.parametrize(
    ("raw", "default", "value"),
    [("1", False, True), ("yes", False, True), ("off", True, False), ("", True, True)],
)
def test_yes_no_settings_accept_the_usual_spellings(monkeypatch, raw, default, value):
    monkeypatch.setenv("ISOGUARD_X", raw)
    assert production.env_bool("ISOGUARD_X", default) is value


def test_a_bad_time_zone_is_refused_naming_the_variable(tmp_path):
    result = settings_in_a_fresh_process(tmp_path, ISOGUARD_TIME_ZONE="Mars/Olympus")
    assert result.returncode != 0
    assert "ISOGUARD_TIME_ZONE='Mars/Olympus' is not an IANA time zone" in result.stderr


def test_a_bad_log_level_is_refused_naming_the_variable(tmp_path):
    result = settings_in_a_fresh_process(tmp_path, ISOGUARD_LOG_LEVEL="LOUD")
    assert "ISOGUARD_LOG_LEVEL='LOUD' is not one of DEBUG" in result.stderr


def test_without_isoguard_var_dir_the_data_stays_in_the_checkouts_var_wherever_it_runs(tmp_path):
    code = "import isoguard.settings as s; print(s.VAR_DIR)"
    env = {k: v for k, v in os.environ.items() if k not in ("ISOGUARD_VAR_DIR", "DATABASE_URL")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(production.BASE_DIR.parents[1] / "var")


def test_a_yes_no_setting_with_another_value_names_the_setting(monkeypatch):
    monkeypatch.setenv("ISOGUARD_DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="ISOGUARD_DEBUG='maybe'"):
        production.env_bool("ISOGUARD_DEBUG", False)


def test_the_default_sqlite_database_runs_in_wal_mode(tmp_path):
    code = (
        "import django; django.setup(); from django.db import connection; "
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])"
    )
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={
            **clean,
            "ISOGUARD_VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "isoguard.settings",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wal"
    assert production.sqlite_options()["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_a_clinics_helpline_override_is_checked_and_a_bad_one_names_the_setting(monkeypatch):
    good = (
        '{"US": {"code": "US", "name": "United States", "emergency": "911",'
        ' "emergency_source": "clinic protocol", "emergency_status": "confirmed",'
        ' "crisis": [{"name": "County crisis line", "number": "555 0123", "hours": "24/7",'
        ' "source": "clinic protocol 2026", "status": "confirmed"}]}}'
    )
    monkeypatch.setenv("ISOGUARD_HELPLINE_OVERRIDES", good)
    assert production.helpline_overrides()["US"]["crisis"][0]["number"] == "555 0123"
    monkeypatch.setenv("ISOGUARD_HELPLINE_OVERRIDES", '{"US": {"code": "US", "name": "x"}}')
    with pytest.raises(ImproperlyConfigured, match="ISOGUARD_HELPLINE_OVERRIDES"):
        production.helpline_overrides()
