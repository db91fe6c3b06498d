"""The screening pages and API: the prescriber's form and result, the patient's plain summary."""

from __future__ import annotations

from django.urls import reverse

from isoguard.audit.models import AuditEvent
from isoguard.patients.models import Allergy
from isoguard.screenings.models import Screening
from isoguard.screenings.services import screening_run
from tests.conftest import page_text

FORM = {
    "diagnosis": "severe_recalcitrant_nodular_acne",
    "failed_treatments": ["oral_minocycline"],
    "can_become_pregnant": "no",
    "allergies": "parabens",
    "medicines": "minocycline 100 mg\nibuprofen",
    "history": ["depression"],
    "other_history": "",
}


def test_the_form_starts_from_what_the_record_knows(world, client):
    Allergy.objects.create(
        patient=world.bob, substance="soy", recorded_on="2026-01-01", recorded_by=world.prescriber
    )
    client.force_login(world.prescriber)
    response = client.get(reverse("screening_new", args=[world.bob.pk]))
    assert response.status_code == 200
    assert response.context["form"].initial["allergies"] == "soy"


def test_screening_a_patient_shows_every_finding_and_the_safe_products(world, client):
    client.force_login(world.prescriber)
    response = client.post(reverse("screening_new", args=[world.bob.pk]), FORM, follow=True)

    text = response.content.decode()
    assert "Eligible, with cautions to acknowledge" in text
    for finding in (
        "allergen:parabens",
        "interaction:tetracyclines",
        "condition:depression",
        "medicine_not_recognised",
    ):
        assert f'data-finding="{finding}"' in text
    assert "(from: “ibuprofen”)" in text
    safe = response.context["screening"].safe_product_slugs
    assert "zenatane" not in safe and "claravis" in safe
    assert "contains parabens: the patient is allergic to parabens" in text


def test_a_wrong_value_keeps_what_was_typed_and_names_the_field(world, client):
    client.force_login(world.prescriber)
    too_long = "x" * 201
    response = client.post(
        reverse("screening_new", args=[world.bob.pk]), {**FORM, "other_history": too_long}
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["other_history"] == ["is longer than 200 characters"]
    assert "minocycline 100 mg" in response.content.decode()  # what was typed stays
    assert not Screening.objects.exists()


def test_starting_a_course_from_the_result_page(world, client):
    client.force_login(world.prescriber)
    client.post(reverse("screening_new", args=[world.bob.pk]), FORM)
    screening = Screening.objects.get()
    url = reverse("screening_start_course", args=[screening.pk])

    refused = client.post(url, {"product": "claravis"})
    assert refused.status_code == 400
    assert "Acknowledge the cautions first." in refused.content.decode()

    started = client.post(url, {"product": "claravis", "acknowledge_cautions": "on"}, follow=True)
    assert "Course 1 planned: claravis, programme us-ipledge-2026." in started.content.decode()


def test_clinic_staff_read_screenings_but_cannot_screen(world, client):
    screening = screening_run(
        user=world.prescriber, patient_id=world.bob.pk, fields={"diagnosis": "other"}
    )
    client.force_login(world.staff)
    assert client.get(reverse("screening_detail", args=[screening.pk])).status_code == 200
    assert client.get(reverse("screening_new", args=[world.bob.pk])).status_code == 403


def test_the_patient_sees_a_plain_summary_on_their_home(world, client):
    screening_run(
        user=world.prescriber,
        patient_id=world.alice.pk,
        fields={
            "diagnosis": "severe_recalcitrant_nodular_acne",
            "failed_treatments": ["oral_minocycline"],
            "can_become_pregnant": True,
            "allergies": ["parabens"],
        },
    )
    client.force_login(world.alice_user)
    text = page_text(client.get(reverse("home")))
    assert "Yes, with some things to watch" in text
    assert "Never share your capsules" in text
    assert "rxreasoner" not in text  # sources are for the clinic, not the patient's page


def test_a_pharmacist_or_another_patient_cannot_read_a_screening(world, client):
    screening = screening_run(
        user=world.prescriber, patient_id=world.alice.pk, fields={"diagnosis": "other"}
    )
    for user in (world.pharmacist, world.bob_user, world.other_prescriber):
        client.force_login(user)
        assert client.get(reverse("screening_detail", args=[screening.pk])).status_code == 403


def test_the_api_screens_a_patient_and_names_a_bad_field(world, client):
    client.force_login(world.prescriber)
    url = f"/api/v1/patients/{world.bob.pk}/screenings"
    ok = client.post(
        url,
        {
            "diagnosis": "acne_conglobata",
            "allergies": ["tartrazine"],
            "medicines": [{"name": "Solodyn", "rxnorm": "6980"}],
        },
        content_type="application/json",
    )
    assert ok.status_code == 201, ok.content
    body = ok.json()
    assert body["outcome"] == "eligible_with_cautions"
    assert {f["id"] for f in body["result"]["findings"]} >= {
        "allergen:tartrazine",
        "interaction:tetracyclines",
    }

    bad = client.post(url, {"diagnosis": "rosacea"}, content_type="application/json")
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "diagnosis"
    typo = client.post(
        url, {"diagnosis": "other", "pregnant": "no"}, content_type="application/json"
    )
    assert typo.status_code == 422 and typo.json()["error"]["field"] == "pregnant"
    unknown = client.post(
        url, {"diagnosis": "other", "weight": 70}, content_type="application/json"
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "weight"
    assert Screening.objects.count() == 1


def test_the_api_refuses_a_screening_of_another_clinics_patient(world, client):
    client.force_login(world.prescriber)
    response = client.post(
        f"/api/v1/patients/{world.hana.pk}/screenings",
        {"diagnosis": "other"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert AuditEvent.objects.filter(outcome="refused", object_id=str(world.hana.pk)).exists()
    assert client.get(f"/api/v1/screenings/{999}").status_code == 403
