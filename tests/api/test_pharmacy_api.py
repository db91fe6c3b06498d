"""The pharmacy's two API calls: ask the programme whether a prescription may be dispensed now,
then record the fill, once. A pharmacy system calls them with its API token."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from isoguard.accounts.models import Organisation, User
from isoguard.accounts.tokens import token_create
from isoguard.audit.models import AuditEvent
from isoguard.courses.models import Dispense, Prescription, ProgrammeDecision
from isoguard.courses.programme_services import medication_guide_record
from isoguard.demo import create_demo
from tests.conftest import make_user


def bearer(username: str) -> dict[str, str]:
    _, token = token_create(User.objects.get(username=username), "pharmacy system")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def fatima_rx(db):
    create_demo(timezone.localdate())
    return Prescription.objects.get(course__patient__given_name="Fatima", dispense__isnull=True)


def post(client: Client, url: str, body: dict | None, headers: dict[str, str]):
    return client.post(url, json.dumps(body or {}), content_type="application/json", **headers)


def test_authorise_then_fill_with_a_token(client, fatima_rx):
    headers = bearer("pharm.chen")
    base = f"/api/v1/prescriptions/{fatima_rx.pk}"
    # The Medication Guide is not acknowledged yet: refused, with what to do.
    response = post(client, f"{base}/dispense-authorisations", None, headers)
    assert response.status_code == 201, response.content
    refused = response.json()
    assert refused["allowed"] is False and refused["unmet"]
    assert ProgrammeDecision.objects.filter(pk=refused["id"], allowed=False).exists()
    pharmacist = User.objects.get(username="pharm.chen")
    medication_guide_record(user=pharmacist, prescription_id=fatima_rx.pk)
    allowed = post(client, f"{base}/dispense-authorisations", None, headers).json()
    assert allowed["allowed"] is True and allowed["unmet"] == []
    assert allowed["dispense_by"] is not None
    assert all(f["status"] == "met" for f in allowed["findings"]) and allowed["findings"]
    fill = {"quantity": fatima_rx.quantity, "days_supply": 30}
    response = post(client, f"{base}/dispenses", fill, headers)
    assert response.status_code == 201, response.content
    assert response.json()["prescription_id"] == fatima_rx.pk
    again = post(client, f"{base}/dispenses", fill, headers)
    assert again.status_code == 422
    assert "already been dispensed" in again.json()["error"]["message"]
    assert (again.json()["error"]["code"], again.json()["error"]["field"]) == ("refused", None)
    assert Dispense.objects.filter(prescription=fatima_rx).count() == 1
    audited = AuditEvent.objects.filter(
        action="authorise_dispense", actor=pharmacist, object_type="courses.programmedecision"
    )
    assert audited.count() == 2


def test_bad_fill_values_name_the_field_and_change_nothing(client, fatima_rx):
    headers = bearer("pharm.chen")
    url = f"/api/v1/prescriptions/{fatima_rx.pk}/dispenses"
    for body, field in [
        ({"quantity": 0, "days_supply": 30}, "quantity"),
        ({"quantity": 60, "days_supply": 31}, "days_supply"),
        ({"quantity": 60, "days_supply": 30, "colour": "red"}, "colour"),
        ({"quantity": 60, "days_supply": 30, "external_do_not_dispense_after": "soon"},
         "external_do_not_dispense_after"),
    ]:  # fmt: skip
        response = post(client, url, body, headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["field"] == field
    assert not Dispense.objects.filter(prescription=fatima_rx).exists()


def test_another_pharmacy_and_a_prescriber_are_refused(client, fatima_rx):
    other = Organisation.objects.create(name="Other", kind="pharmacy", jurisdiction="US")
    make_user("pharm.other", "pharmacist", other)
    for username in ("pharm.other", "dr.rivera"):
        response = post(
            client,
            f"/api/v1/prescriptions/{fatima_rx.pk}/dispense-authorisations",
            None,
            bearer(username),
        )
        assert response.status_code == 403, username
    assert not ProgrammeDecision.objects.filter(prescription=fatima_rx).exists()


@pytest.mark.django_db(transaction=True)
def test_ten_systems_filling_at_once_record_one_dispense():
    create_demo(timezone.localdate())
    rx = Prescription.objects.get(course__patient__given_name="Fatima", dispense__isnull=True)
    medication_guide_record(user=User.objects.get(username="pharm.chen"), prescription_id=rx.pk)
    headers = bearer("pharm.chen")
    start = threading.Barrier(10)
    statuses: list[int] = []

    def press() -> None:
        try:
            client = Client()
            start.wait()
            response = post(
                client, f"/api/v1/prescriptions/{rx.pk}/dispenses",
                {"quantity": rx.quantity, "days_supply": 30}, headers,
            )  # fmt: skip
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [201] + [422] * 9
    assert Dispense.objects.filter(prescription=rx).count() == 1
