"""/api/v1 side-effect reports: the same rules as the pages, JSON in and out."""

from __future__ import annotations

from isoguard.courses.models import SymptomReport


def post(client, patient, body):
    return client.post(
        f"/api/v1/patients/{patient.pk}/symptom-reports", body, content_type="application/json"
    )


def test_a_patient_reports_and_gets_the_level_the_evidence_and_the_advice(world, client):
    client.force_login(world.alice_user)
    response = post(client, world.alice, {"text": "my chest feels tight", "symptoms": []})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["level"] == "stop_and_call"
    assert body["concepts"] == [
        {"id": "chest_pain", "level": "stop_and_call", "evidence": "chest feels tight"}
    ]
    assert body["advice"]["headline"].startswith("Stop taking isotretinoin")
    assert body["review_state"] == "new"
    again = client.get(f"/api/v1/symptom-reports/{body['id']}").json()
    assert again["id"] == body["id"]


def test_bad_input_is_422_naming_the_field_and_stores_nothing(world, client):
    client.force_login(world.alice_user)
    for body, field in (
        ({"text": "", "symptoms": []}, "text"),
        ({"text": "dry lips", "symptoms": ["nope"]}, "symptoms"),
        ({"text": "dry lips", "mood": 3}, "mood"),
        ({"text": 5}, "text"),
    ):
        response = post(client, world.alice, body)
        assert response.status_code == 422, body
        assert response.json()["error"]["field"] == field, response.json()
    assert not SymptomReport.objects.exists()


def test_the_worklist_is_the_clinics_only(world, client):
    client.force_login(world.alice_user)
    post(client, world.alice, {"text": "lips dry"})
    urgent = post(client, world.alice, {"text": "", "symptoms": ["jaundice"]}).json()
    assert client.get("/api/v1/worklist").status_code == 403
    client.force_login(world.staff)
    assert [r["id"] for r in client.get("/api/v1/worklist").json()] == [urgent["id"]]
    client.force_login(world.other_prescriber)
    assert client.get("/api/v1/worklist").json() == []
    assert client.get(f"/api/v1/symptom-reports/{urgent['id']}").status_code == 403
    client.force_login(world.bob_user)
    assert post(client, world.alice, {"text": "rash"}).status_code == 403
