"""Faults: the app killed (SIGKILL) in the middle of a batch of writes keeps every committed
record and nothing half-written; a lost or locked database gives a clear 503 and writes nothing.
Both run on SQLite and on PostgreSQL (whichever the suite runs on)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.accounts.tokens import token_create
from isoguard.audit.chain import verify
from isoguard.audit.models import AuditEvent
from isoguard.courses.models import Dispense, Prescription, ProgrammeDecision, SymptomReport
from isoguard.courses.programme_services import medication_guide_record
from isoguard.demo import create_demo

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    return f"postgres://{conf['USER']}{password}@{conf['HOST']}:{conf['PORT']}/{conf['NAME']}"


def start_writer(patient_id: int, username: str, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "isoguard.settings"}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "tests.operations.writer", str(patient_id), username, str(count)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def committed_until_killed(writer: subprocess.Popen[str], kill_after: int) -> list[int]:
    ids: list[int] = []
    assert writer.stdout is not None
    for line in writer.stdout:
        if line.startswith("committed "):
            ids.append(int(line.split()[1]))
            if len(ids) == kill_after:
                os.kill(writer.pid, signal.SIGKILL)  # mid-batch: the next write has begun
                break
    writer.wait(timeout=30)
    return ids


@pytest.mark.django_db(transaction=True)
def test_killed_mid_batch_every_committed_record_is_intact_and_nothing_half_written():
    create_demo(timezone.localdate())
    patient = User.objects.get(username="alice").patient_record
    writer = start_writer(patient.pk, "alice", count=500)
    ids = committed_until_killed(writer, kill_after=25)
    assert writer.returncode == -signal.SIGKILL, writer.stderr.read() if writer.stderr else ""
    assert len(ids) == 25
    connection.close()
    kept = set(SymptomReport.objects.filter(patient=patient).values_list("pk", flat=True))
    assert set(ids) <= kept  # every committed report is there
    assert len(kept - set(ids)) <= 1  # at most the one stored when the kill came
    for report in SymptomReport.objects.filter(patient=patient):
        # Stored with its audit event in one transaction; triaged, or waiting to be read by hand
        # at the top of the worklist (the kill came between storing and triaging).
        trail = AuditEvent.objects.filter(object_type="courses.symptomreport", action="create")
        assert trail.filter(object_id=str(report.pk)).exists()
        assert report.triage_state in ("triaged", "pending", "failed"), report.triage_state
    assert verify().ok, verify().message
    # It starts again where it was: more writes, one chain.
    again = start_writer(patient.pk, "alice", count=3)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert out.count("committed") == 3
    assert verify().ok


def api_post(client: Client, url: str, token: str, body: dict | None = None):
    return client.post(url, json.dumps(body or {}), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {token}")  # fmt: skip


def break_the_connection_during(monkeypatch, target: str, attribute: str) -> None:
    """When `target.attribute` is called (inside the fill's transaction), the database goes away:
    on PostgreSQL the server really ends this connection (pg_terminate_backend); on SQLite the
    error of a database locked past the busy timeout is raised (raise_locked)."""
    import importlib

    module = importlib.import_module(target)
    original = getattr(module, attribute)

    def failing(*args, **kwargs):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        else:
            raise_locked()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, attribute, failing)


def raise_locked() -> None:
    """SQLite has no connection to lose (it is a file in this process), and inside our own
    IMMEDIATE transaction no one else can lock us out; so the driver's error for a database
    locked past the busy timeout is raised where it would come."""
    from django.db import OperationalError

    raise OperationalError("database is locked")


@pytest.mark.django_db(transaction=True)
def test_a_lost_database_gives_a_clear_503_and_no_partial_write(monkeypatch):
    create_demo(timezone.localdate())
    rx = Prescription.objects.get(course__patient__given_name="Fatima", dispense__isnull=True)
    pharmacist = User.objects.get(username="pharm.chen")
    medication_guide_record(user=pharmacist, prescription_id=rx.pk)
    _, token = token_create(pharmacist, "pharmacy system")
    decisions = ProgrammeDecision.objects.count()
    events = AuditEvent.objects.count()
    break_the_connection_during(
        monkeypatch, "isoguard.courses.programme_services", "decision_store"
    )
    client = Client()
    response = api_post(client, f"/api/v1/prescriptions/{rx.pk}/dispenses", token,
                        {"quantity": rx.quantity, "days_supply": 30})  # fmt: skip
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    error = response.json()["error"]
    assert error["code"] == "database_unavailable" and "nothing was saved" in error["message"]
    monkeypatch.undo()
    connection.close()
    # Nothing of the fill was kept: no dispense, no decision, no audit event of it.
    assert not Dispense.objects.filter(prescription=rx).exists()
    assert ProgrammeDecision.objects.count() == decisions
    assert not AuditEvent.objects.filter(object_type="courses.dispense").exists()
    assert AuditEvent.objects.count() >= events  # (the access check before the fill is audited)
    assert verify().ok
    # The next request reconnects and the fill goes through, once.
    response = api_post(client, f"/api/v1/prescriptions/{rx.pk}/dispenses", token,
                        {"quantity": rx.quantity, "days_supply": 30})  # fmt: skip
    assert response.status_code == 201, response.content
    assert Dispense.objects.filter(prescription=rx).count() == 1


@pytest.mark.django_db(transaction=True)
def test_pages_and_fhir_say_so_in_their_own_form(monkeypatch, client):
    from django.db import OperationalError

    create_demo(timezone.localdate())
    client.force_login(User.objects.get(username="dr.rivera"))

    def down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("isoguard.interop.fhir.views._patient", down)
    response = client.get("/fhir/R4/Patient/patient-1")
    assert response.status_code == 503
    assert response.json()["issue"][0]["code"] == "transient"
    monkeypatch.setattr("isoguard.web.views.render", down)
    response = client.get("/")
    assert response.status_code == 503
    assert b"Nothing was saved" in response.content


@pytest.mark.django_db
def test_a_database_error_before_the_view_is_the_same_503(monkeypatch):
    """The session, the login and the second factor read the database in middleware, before any
    view: an error there goes to handler500, which answers the same 503."""
    from django.db import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("isoguard.security.middleware.second_step", down)
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/me")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    assert client.get("/").status_code == 503
