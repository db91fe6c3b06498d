"""The JSON API applies the same access rules as the pages, with one error shape."""

from __future__ import annotations

from isoguard.audit.models import AuditEvent
from tests.conftest import page_text


def test_me_says_who_is_logged_in(world, client):
    client.force_login(world.pharmacist)
    assert client.get("/api/v1/me").json() == {
        "username": "pharmacist",
        "role": "pharmacist",
        "organisation": "Main Street",
    }


def test_without_a_login_the_api_answers_401_in_the_error_shape(world, client):
    response = client.get("/api/v1/patients")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_patient_list_holds_only_the_patients_the_user_may_see(world, client):
    client.force_login(world.pharmacist)
    assert [p["given_name"] for p in client.get("/api/v1/patients").json()] == ["Alice"]
    client.force_login(world.other_prescriber)
    assert [p["given_name"] for p in client.get("/api/v1/patients").json()] == ["Hana"]


def test_another_clinics_patient_is_refused_with_403_and_audited(world, client):
    client.force_login(world.prescriber)
    response = client.get(f"/api/v1/patients/{world.hana.pk}")
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "forbidden",
            "field": None,
            "message": "You may not see this patient's record.",
        }
    }
    assert (
        AuditEvent.objects.get(object_id=str(world.hana.pk), actor=world.prescriber).outcome
        == "refused"
    )


def test_an_own_patient_is_returned(world, client):
    client.force_login(world.staff)
    body = client.get(f"/api/v1/patients/{world.bob.pk}").json()
    assert body["given_name"] == "Bob" and body["clinic"] == "Riverside"


def test_a_malformed_id_is_refused_naming_the_field(world, client):
    client.force_login(world.prescriber)
    response = client.get("/api/v1/patients/abc")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "patient_id"


def test_the_openapi_description_and_docs_are_served_locally(world, client):
    client.force_login(world.prescriber)
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/patients/{patient_id}" in spec["paths"]
    docs = page_text(client.get("/api/v1/docs"))
    assert "cdn" not in docs.lower()
