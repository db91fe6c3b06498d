"""Request bodies over the limit are refused before they are read: 413, naming the limit, in the
caller's form, and nothing is stored."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.courses.models import SymptomReport
from isoguard.demo import create_demo
from isoguard.patients.models import Patient


@pytest.fixture
def prescriber(db, client):
    create_demo(timezone.localdate())
    user = User.objects.get(username="dr.rivera")
    client.force_login(user)
    return user


def test_an_oversized_api_body_is_413_naming_the_limit(client, prescriber, settings):
    patient = Patient.objects.get(given_name="Alice")
    big = json.dumps({"text": "x" * (settings.ISOGUARD_MAX_REQUEST_BYTES + 1)})
    response = client.post(f"/api/v1/patients/{patient.pk}/symptom-reports", big,
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert f"at most {settings.ISOGUARD_MAX_REQUEST_BYTES} bytes" in error["message"]
    assert not SymptomReport.objects.filter(patient=patient).exists()


def test_a_fhir_bundle_has_its_own_larger_limit(client, prescriber, settings):
    settings.ISOGUARD_MAX_IMPORT_BYTES = 50_000
    before = Patient.objects.count()
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [],
              "padding": "x" * 60_000}  # fmt: skip
    response = client.post("/fhir/R4/", json.dumps(bundle), content_type="application/fhir+json")
    assert response.status_code == 413
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly" and "at most 50000 bytes" in issue["diagnostics"]
    # Under the import limit but over the general one: the import's limit applies to it.
    settings.ISOGUARD_MAX_REQUEST_BYTES = 20_000
    bundle["padding"] = "x" * 30_000
    response = client.post("/fhir/R4/", json.dumps(bundle), content_type="application/fhir+json")
    assert response.status_code != 413
    assert Patient.objects.count() == before


def test_a_form_page_says_so_too(client, prescriber, settings):
    patient = Patient.objects.get(given_name="Alice")
    response = client.post(f"/patients/{patient.pk}/reports/new/",
                           {"text": "x" * (settings.ISOGUARD_MAX_REQUEST_BYTES + 10)})  # fmt: skip
    assert response.status_code == 413
    assert b"Not accepted" in response.content and b"at most" in response.content
