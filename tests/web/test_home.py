"""Each role's home page shows that role's work, and only its own organisation's."""

from __future__ import annotations

import pytest
from django.urls import reverse

from isoguard.audit.models import AuditEvent
from isoguard.patients.access import patients_visible_to
from tests.conftest import page_text


def home_text(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return page_text(response)


def test_the_prescriber_home_lists_their_clinics_patients_only(world, client):
    text = home_text(client, world.prescriber)
    assert "Patients of Riverside" in text
    assert "Alice" in text and "Bob" in text and "Chloe" in text
    assert "Hana" not in text


def test_the_pharmacist_home_lists_prescriptions_presented_there(world, client):
    text = home_text(client, world.pharmacist)
    assert "Prescriptions presented at Main Street" in text
    assert "Alice" in text
    assert "Bob" not in text and "Hana" not in text


def test_the_patient_home_shows_their_own_record_and_audits_the_view(world, client):
    text = home_text(client, world.alice_user)
    assert "Hello, Alice" in text
    assert "61.5 kg" in text
    assert AuditEvent.objects.filter(actor=world.alice_user, patient_id=world.alice.pk).exists()


def test_a_patient_account_without_a_record_is_told_what_to_do(db, client):
    from tests.conftest import make_user

    text = home_text(client, make_user("newcomer", "patient"))
    assert "not linked to a patient record" in text


def test_the_guardian_home_lists_the_patients_they_care_for(world, client):
    text = home_text(client, world.guardian)
    assert "Chloe" in text and "Alice" not in text


def test_the_administrator_home_points_to_the_admin_site(world, client):
    text = home_text(client, world.admin)
    assert reverse("admin:index") in text
    assert "Hillside" in text and "Main Street" in text


@pytest.mark.parametrize("role_user", ["prescriber", "pharmacist", "alice_user", "guardian"])
def test_only_administrators_reach_the_admin_site(world, client, role_user):
    client.force_login(getattr(world, role_user))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302  # to the admin's own login page


def test_the_admin_site_registers_no_clinical_record():
    from django.contrib import admin

    labels = {model._meta.label for model in admin.site._registry}
    assert {"accounts.Organisation", "accounts.User", "audit.AuditEvent"} <= labels
    assert not {label for label in labels if label.split(".")[0] in ("patients", "courses")}


def test_viewing_lists_and_records_in_the_admin_is_audited(world, client):
    client.force_login(world.admin)
    client.get(reverse("admin:accounts_user_changelist"))
    client.get(reverse("admin:audit_auditevent_changelist"))
    client.get(reverse("admin:accounts_user_change", args=[world.alice_user.pk]))
    seen = set(AuditEvent.objects.filter(actor=world.admin).values_list("action", "object_type"))
    assert {
        ("admin_list", "accounts.user"),
        ("admin_list", "audit.auditevent"),
        ("admin_view", "accounts.user"),
    } <= seen


def test_logging_in_and_out_and_failing_to_log_in_are_audited(world, client):
    assert (
        client.post(reverse("login"), {"username": "alice", "password": "wrong"}).status_code == 200
    )
    assert (
        client.post(
            reverse("login"), {"username": "alice", "password": "a-long-test-password"}
        ).status_code
        == 302
    )
    client.post(reverse("logout"))

    actions = list(AuditEvent.objects.order_by("id").values_list("action", "outcome"))
    assert actions == [("login", "refused"), ("login", "allowed"), ("logout", "allowed")]


def test_the_health_check_answers_without_a_login(client):
    assert client.get("/healthz").content == b"ok\n"


@pytest.mark.parametrize("role_user", ["prescriber", "staff", "guardian", "pharmacist"])
def test_reading_a_list_of_patients_is_audited(world, client, role_user):
    user = getattr(world, role_user)
    home_text(client, user)
    event = AuditEvent.objects.get(actor=user, action="list", object_type="patients.patient")
    assert event.detail["patient_ids"] == sorted(
        p.pk
        for p in (world.alice, world.bob, world.chloe, world.hana)
        if patients_visible_to(user).filter(pk=p.pk).exists()
    )
    assert event.detail["patient_ids"]


def test_an_administrators_change_to_a_user_is_audited(world, client):
    client.force_login(world.admin)
    url = reverse("admin:accounts_user_change", args=[world.staff.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        first_name="Jae",
        date_joined_0="2026-11-25",
        date_joined_1="10:00:00",
        last_login_0="",
        last_login_1="",
        groups=[],
        user_permissions=[],
    )

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    event = AuditEvent.objects.get(action="update", object_id=str(world.staff.pk))
    assert event.actor == world.admin and event.object_type == "accounts.user"


def test_a_cancelled_prescription_leaves_the_pharmacists_list_and_access(world, client):
    from django.utils import timezone

    from isoguard.courses.models import Prescription

    Prescription.objects.filter(course__patient=world.alice).update(cancelled_at=timezone.now())
    client.force_login(world.pharmacist)
    assert "Alice" not in page_text(client.get(reverse("home")))
    assert client.get(reverse("patient_detail", args=[world.alice.pk])).status_code == 403


def test_the_patient_home_reads_the_active_course_record_once(world, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from isoguard.courses.models import Course

    Course.objects.filter(patient=world.alice).update(status="active", first_dose_on="2026-11-01")
    client.force_login(world.alice_user)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("home")).status_code == 200
    checks = [q for q in captured if 'FROM "courses_monthlycheck"' in q["sql"]]
    assert len(checks) == 1  # the month and the steps share one record
