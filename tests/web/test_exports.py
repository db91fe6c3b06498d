"""Exports: the clinic's courses as CSV, a patient's summary to print; both audited."""

from __future__ import annotations

import csv
import io

from django.urls import reverse
from django.utils import timezone

from isoguard.audit.models import AuditEvent
from isoguard.demo import create_demo


def test_the_courses_csv_lists_each_course_with_what_is_next(db, client):
    from isoguard.accounts.models import User

    create_demo(timezone.localdate())
    client.force_login(User.objects.get(username="nurse.kim"))
    response = client.get(reverse("export_courses"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    names = [r["patient"] for r in rows]
    assert {"Alice Moreno", "Fatima Rahman", "Erin Walsh", "Dev Patel"} <= set(names)
    fatima = next(r for r in rows if r["patient"] == "Fatima Rahman")
    assert fatima["status"] == "active" and fatima["next due on"] == str(timezone.localdate())
    chloe = next(r for r in rows if r["patient"] == "Chloe Tan")
    assert chloe["open reports"] == "1"
    assert AuditEvent.objects.filter(action="list", object_type="export.courses").exists()


def test_a_formula_in_a_name_is_not_run_by_a_spreadsheet(world, client):
    world.alice.given_name = "=HYPERLINK(1)"
    world.alice.save()
    client.force_login(world.prescriber)
    text = client.get(reverse("export_courses")).content.decode()
    assert "'=HYPERLINK(1) Test" in text


def test_only_the_clinic_exports_and_the_summary_follows_the_record_rules(world, client):
    for outsider in (world.alice_user, world.pharmacist, world.guardian):
        client.force_login(outsider)
        assert client.get(reverse("export_courses")).status_code == 403
    url = reverse("patient_summary", args=[world.alice.pk])
    client.force_login(world.alice_user)
    page = client.get(url)
    assert page.status_code == 200 and 'data-testid="patient-summary"' in page.content.decode()
    for outsider in (world.bob_user, world.other_prescriber, world.pharmacist):
        client.force_login(outsider)
        assert client.get(url).status_code == 403
    client.force_login(world.prescriber)
    assert "Course 1: claravis" in client.get(url).content.decode()
