"""Review of the side-effect report and mood screening change.

Written by a review of the side-effect reports and mood screening: each test states what must hold
(access, audit, nothing urgent hidden, crisis numbers, no N+1 queries), and each once failed.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from isoguard.audit.models import AuditEvent
from isoguard.core.triage.advice import crisis_calls
from isoguard.courses import mood_services, report_services
from isoguard.courses.models import SymptomReport
from isoguard.patients.models import Guardianship
from isoguard.web.templatetags.isoguard_tags import highlight
from tests.conftest import make_course, make_patient

CALM = {i: 0 for i in range(1, 10)}
ITEM9 = {**CALM, 9: 1}


def submit(world, text, ticked=(), user=None, patient=None):
    return report_services.report_submit(
        user=user or world.alice_user,
        patient_id=(patient or world.alice).pk,
        text=text,
        ticked=list(ticked),
    )


# --- Under-triage: the report never reaches the worklist ----------------------------------------


def test_ticking_dry_lips_hides_words_the_triage_could_not_read(world):
    alone = submit(world, "I can't stop shaking")
    assert alone.priority >= report_services.worklist_min_priority()  # today: on the worklist

    with_tick = submit(world, "I can't stop shaking", ticked=["dry_lips"])

    assert with_tick.priority >= report_services.worklist_min_priority()
    assert with_tick in report_services.worklist(world.prescriber)


@pytest.mark.parametrize(
    "text",
    [
        "my lips are dry and I had a seizure",
        "dry lips and I am coughing up blood",
        "dry lips. I took 10 pills at once by mistake",
    ],
)
def test_a_serious_unknown_symptom_beside_a_known_minor_one_is_told_self_care(world, text):
    report = submit(world, text)

    assert report in report_services.worklist(world.prescriber)
    assert report_services.report_advice(report).level != "self_care"


def test_suicidal_words_the_triage_cannot_read_still_show_the_crisis_line(world):
    report = submit(world, "quiero morirme, ya no puedo más")

    advice = report_services.report_advice(report)
    assert any(call.kind == "crisis" for call in advice.calls)  # 988 for a US patient


# --- Access ------------------------------------------------------------------------------------


def test_a_guardian_does_not_get_the_teenagers_phq_a_answers_through_its_report(world, client):
    make_course(world.chloe, world.prescriber)
    assessment, _ = mood_services.mood_record(
        user=world.prescriber,
        patient_id=world.chloe.pk,
        answers=ITEM9,
        extras={"suicidal_thoughts_past_month": True, "suicide_attempt_ever": False},
    )
    client.force_login(world.guardian)
    assert client.get(reverse("mood_detail", args=[assessment.pk])).status_code == 403

    body = client.get(f"/api/v1/symptom-reports/{assessment.report.pk}").json()

    assert "PHQ-A" not in json.dumps(body)


def test_a_guardian_loses_reports_at_18_and_inactive_users_are_refused(world, client):
    """No problem found: the guardian's 18th birthday and is_active are honoured by both."""
    adult = make_patient(world.clinic, "Dan", birth_date=dt.date(2008, 1, 1))
    Guardianship.objects.create(guardian=world.guardian, patient=adult, since=dt.date(2020, 1, 1))
    report = SymptomReport.objects.create(patient=adult, text="rash", submitted_by=world.prescriber)
    client.force_login(world.guardian)
    assert client.get(reverse("report_detail", args=[report.pk])).status_code == 403
    assert client.get(f"/api/v1/symptom-reports/{report.pk}").status_code == 403

    client.force_login(world.prescriber)
    world.prescriber.is_active = False
    world.prescriber.save()
    assert client.get(reverse("report_detail", args=[report.pk])).status_code == 302  # to login
    assert client.get("/api/v1/worklist").status_code == 401


def test_the_api_and_the_forms_check_csrf(world):
    """No problem found: a session POST without the token is refused on both."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.alice_user)
    api = browser.post(
        f"/api/v1/patients/{world.alice.pk}/symptom-reports",
        json.dumps({"text": "dry lips"}),
        content_type="application/json",
    )
    page = browser.post(reverse("report_new", args=[world.alice.pk]), {"text": "dry lips"})
    assert (api.status_code, page.status_code) == (403, 403)
    assert not SymptomReport.objects.exists()


# --- Audit -------------------------------------------------------------------------------------


def test_a_refused_pharmacist_leaves_no_allowed_report_event(world, client):
    client.force_login(world.pharmacist)
    response = client.post(reverse("report_new", args=[world.alice.pk]), {"text": "dry lips"})
    assert response.status_code == 403

    allowed = AuditEvent.objects.filter(
        actor=world.pharmacist, action="report_symptoms", outcome=AuditEvent.Outcome.ALLOWED
    )
    assert not allowed.exists()


def test_reading_a_report_is_audited_with_the_reports_id(world, client):
    report = submit(world, "chest pain")
    client.force_login(world.prescriber)
    client.get(reverse("report_detail", args=[report.pk]))

    assert AuditEvent.objects.filter(
        actor=world.prescriber,
        action="view",
        object_type="courses.symptomreport",
        object_id=str(report.pk),
    ).exists()


def test_a_refused_api_worklist_is_audited(world, client):
    client.force_login(world.pharmacist)
    assert client.get("/api/v1/worklist").status_code == 403

    assert AuditEvent.objects.filter(
        actor=world.pharmacist, outcome=AuditEvent.Outcome.REFUSED
    ).exists()


# --- Robustness, queries, display --------------------------------------------------------------


def test_a_non_ascii_digit_answer_is_an_error_on_its_item_not_a_500(world, client):
    client.force_login(world.alice_user)
    data = {f"item_{i}": "0" for i in range(1, 10)} | {"item_1": "\u00b2"}

    response = client.post(reverse("mood_new", args=[world.alice.pk]), data)

    assert response.status_code == 400


def test_the_worklist_has_no_n_plus_one(world, client):
    """No problem found: the clinic home and the API worklist run a fixed number of queries."""
    client.force_login(world.prescriber)
    submit(world, "chest pain")
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("home"))
    for _ in range(8):
        submit(world, "chest pain", user=world.bob_user, patient=world.bob)
        mood_services.mood_record(user=world.alice_user, patient_id=world.alice.pk, answers=ITEM9)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("home"))
    assert len(many) == len(few)


def test_the_patient_home_has_no_n_plus_one_on_mood_reports(world, client):
    client.force_login(world.alice_user)
    mood_services.mood_record(user=world.alice_user, patient_id=world.alice.pk, answers=ITEM9)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("home"))
    for _ in range(5):
        mood_services.mood_record(user=world.alice_user, patient_id=world.alice.pk, answers=ITEM9)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("home"))

    assert len(many) == len(few)


def test_highlight_marks_the_mention_the_triage_counted(world):
    text = "No chest pain yesterday. Today the chest pain is back and crushing."
    report = submit(world, text)
    assert report.triage_level == "stop_and_call"

    html = str(highlight(text, report.concepts))

    assert html.startswith("No chest pain yesterday.")


# --- Numbers -----------------------------------------------------------------------------------


def test_the_clinic_is_told_when_a_patients_country_is_not_recorded(world, client):
    eu = make_patient(world.clinic, "Eva")
    eu.jurisdiction = "EU"
    eu.save()
    assert report_services.country_of(eu).fallback
    assert [c.kind for c in crisis_calls(report_services.country_of(eu))] == ["emergency"]

    client.force_login(world.prescriber)
    page = client.get(reverse("patient_detail", args=[eu.pk])).content.decode()

    assert "country" in page.lower()
