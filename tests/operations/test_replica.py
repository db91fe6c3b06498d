"""The read replica for reports: exports read from it, writes and the audit chain never do."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.audit.chain import verify
from isoguard.demo import create_demo
from isoguard.operations.routers import REPLICA, ReportsRouter, reports_database
from isoguard.patients.models import Patient


def test_the_router_sends_reads_to_the_replica_only_for_reports(settings):
    router = ReportsRouter()
    settings.ISOGUARD_USE_REPLICA = True
    assert router.db_for_read(Patient) is None
    with reports_database():
        assert router.db_for_read(Patient) == REPLICA
        assert router.db_for_write(Patient) == "default"
    assert router.db_for_read(Patient) is None
    assert router.allow_migrate("default", "patients") and not router.allow_migrate(REPLICA, "x")


def test_without_a_replica_reports_read_the_primary(settings):
    settings.ISOGUARD_USE_REPLICA = False
    with reports_database():
        assert ReportsRouter().db_for_read(Patient) is None


@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
def test_the_courses_export_reads_the_replica_and_audits_on_the_primary(client, settings):
    """The replica here is a second connection to the test database (a test mirror)."""
    settings.ISOGUARD_USE_REPLICA = True
    create_demo(timezone.localdate())
    client.force_login(User.objects.get(username="dr.rivera"))
    with (
        CaptureQueriesContext(connections[REPLICA]) as replica,
        CaptureQueriesContext(connections["default"]) as primary,
    ):
        response = client.get("/exports/courses.csv")
    assert response.status_code == 200
    assert b"Moreno" in response.content
    assert any("courses_course" in q["sql"] for q in replica.captured_queries)
    statements = [q["sql"].lstrip().upper() for q in replica.captured_queries]
    assert not [sql for sql in statements if sql.startswith(("INSERT", "UPDATE", "DELETE"))]
    assert any("audit_auditevent" in q["sql"] for q in primary.captured_queries)
    # The courses' records too (operations/prepared.py reads where the router says).
    record_reads = ("courses_consent", "courses_monthlycheck", "courses_labresult")
    assert any(t in q["sql"] for q in replica.captured_queries for t in record_reads)
    assert not any(t in q["sql"] for q in primary.captured_queries for t in record_reads)
    assert verify().ok
