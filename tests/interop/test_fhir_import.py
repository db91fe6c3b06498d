"""Importing a patient's history from a transaction Bundle (interop/fhir/importer.py).

Each test exports a demo patient, changes the Bundle as another system might send it, and
imports it into another clinic: what arrives, what arrives changed on purpose (an open course in
screening, an unfilled prescription cancelled), and what is refused, naming the element.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from isoguard.accounts.models import Organisation
from isoguard.audit.models import AuditEvent
from isoguard.courses.models import Course, MoodAssessment, Prescription, SymptomReport
from isoguard.demo import create_demo
from isoguard.interop.fhir import importer
from isoguard.patients.access import pharmacy_prescriptions
from isoguard.patients.models import Allergy, Patient
from isoguard.web.programme_views import PrescriptionForm
from tests.conftest import TODAY, make_user
from tests.interop.test_fhir import BASE, get, transaction_of, user


@pytest.fixture
def demo(db):
    create_demo(TODAY)
    return {p.given_name.lower(): p for p in Patient.objects.all()}


@pytest.fixture
def elsewhere(db):
    clinic = Organisation.objects.create(name="Elsewhere", kind="clinic", jurisdiction="US")
    return clinic, make_user("importer", "prescriber", clinic)


def exported(client, patient) -> dict:
    _, bundle = get(client, user("dr.rivera"), f"{BASE}Patient/patient-{patient.pk}/$everything")
    return transaction_of(bundle)


def entries(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_allergies_and_diagnoses_arrive_on_the_record(client, demo, elsewhere):
    alice = demo["alice"]
    Allergy.objects.create(
        patient=alice, substance="soybean oil", reaction="hives",
        recorded_on=dt.date(2026, 1, 5), recorded_by=user("dr.rivera"),
    )  # fmt: skip
    clinic, importer_user = elsewhere
    patient = importer.import_bundle(exported(client, alice), clinic, importer_user)
    [allergy] = patient.allergies.all()
    assert (allergy.substance, allergy.reaction, allergy.recorded_on) == (
        "soybean oil",
        "hives",
        dt.date(2026, 1, 5),
    )
    assert [(d.icd10_code, d.description) for d in patient.diagnoses.all()] == [
        (d.icd10_code, d.description) for d in alice.diagnoses.all()
    ]


def test_an_open_course_arrives_in_screening_and_its_unfilled_prescription_cancelled(
    client, demo, elsewhere
):
    fatima = demo["fatima"]  # an active course with a prescription waiting to be filled
    assert fatima.courses.get().status == "active"
    clinic, importer_user = elsewhere
    bundle = exported(client, fatima)
    client.force_login(importer_user)
    response = client.post(BASE, json.dumps(bundle),
                           content_type="application/fhir+json")  # fmt: skip
    assert response.status_code == 200, response.content
    copy_ = Patient.objects.get(clinic=clinic)
    course = copy_.courses.get()
    assert course.status == "screening"
    assert course.prescriber == importer_user  # the course goes on here, with this prescriber
    assert course.first_dose_on == fatima.courses.get().first_dose_on
    unfilled = Prescription.objects.get(course=course, dispense=None)
    assert unfilled.cancelled_at is not None
    # No pharmacy anywhere may fill it, and the external pharmacy is nobody's to choose.
    for pharmacy in Organisation.objects.filter(kind="pharmacy"):
        assert not pharmacy_prescriptions(pharmacy.pk).filter(pk=unfilled.pk).exists()
    choices = PrescriptionForm().fields["pharmacy"].queryset
    assert not choices.filter(external=True).exists()
    assert Organisation.objects.filter(external=True).exists()
    # The response says what changed on the way in.
    notes = [e["response"].get("outcome", {}).get("issue", [{}])[0].get("diagnostics", "")
             for e in response.json()["entry"]]  # fmt: skip
    assert any("imported as a course in screening" in n for n in notes)
    assert any("arrives cancelled" in n for n in notes)
    events = AuditEvent.objects.filter(action="fhir_import", patient_id=copy_.pk)
    [summary] = [e for e in events if "imported" in e.detail]
    assert summary.detail["imported"]["MedicationRequest"] == 2
    # Each imported row is in the trail too, with the entry it came from.
    assert events.filter(object_type="courses.prescription").count() == 2


def test_a_recent_mood_crisis_goes_on_the_worklist_an_old_one_does_not(client, demo, elsewhere):
    chloe = demo["chloe"]
    bundle = exported(client, chloe)
    [mood] = [r for r in entries(bundle, "QuestionnaireResponse") if r["id"].startswith("mood-")]
    for item in mood["item"]:
        if item["linkId"] == "9":
            item["answer"] = [{"valueInteger": 2}]
        if item["linkId"] == "total":
            item["answer"] = [{"valueInteger": item["answer"][0]["valueInteger"] + 2}]
    clinic, importer_user = elsewhere
    mood["authored"] = timezone.localdate().isoformat()
    patient = importer.import_bundle(bundle, clinic, importer_user)
    report = SymptomReport.objects.get(patient=patient)
    assert report.triage_level == "emergency"
    mood["authored"] = (timezone.localdate() - dt.timedelta(days=200)).isoformat()
    for resource in entries(bundle, "Patient"):
        resource["identifier"] = []  # the first import took the record number, and the name
        resource["name"][0]["given"] = ["Chlo\u00e9"]
    older = importer.import_bundle(bundle, clinic, importer_user)
    assert MoodAssessment.objects.get(patient=older).item9 == 2
    assert not SymptomReport.objects.filter(patient=older).exists()


def test_a_total_that_is_not_the_sum_is_refused(client, demo, elsewhere):
    bundle = exported(client, demo["chloe"])
    [mood] = [r for r in entries(bundle, "QuestionnaireResponse") if r["id"].startswith("mood-")]
    next(i for i in mood["item"] if i["linkId"] == "total")["answer"] = [{"valueInteger": 27}]
    index = next(i for i, e in enumerate(bundle["entry"]) if e["resource"] is mood)
    clinic, importer_user = elsewhere
    with pytest.raises(ValidationError) as caught:
        importer.import_bundle(bundle, clinic, importer_user)
    assert f"Bundle.entry[{index}].resource.item" in caught.value.message_dict
    assert not Patient.objects.filter(clinic=clinic).exists()


@pytest.mark.parametrize(
    ("kind", "change", "element"),
    [
        ("MedicationRequest", lambda r: r.pop("basedOn"), "basedOn"),
        ("MedicationRequest", lambda r: r.pop("dosageInstruction"), "dosageInstruction"),
        ("MedicationDispense", lambda r: r.pop("authorizingPrescription"),
         "authorizingPrescription"),
        ("Consent", lambda r: r["category"][0]["coding"][0].update(code="nonsense"), "category"),
        ("Consent", lambda r: r.pop("provision"), "provision.data"),
        ("CarePlan", lambda r: r["activity"][0]["detail"].pop("productCodeableConcept"),
         "activity[0].detail.productCodeableConcept"),
        ("Condition", lambda r: r["code"].pop("coding"), "code"),
        ("QuestionnaireResponse", lambda r: r.update(questionnaire="urn:x:unknown"),
         "questionnaire"),
    ],
)  # fmt: skip
def test_a_bad_entry_is_refused_naming_its_element_and_nothing_is_stored(
    client, demo, elsewhere, kind, change, element
):
    bundle = exported(client, demo["alice"])
    index, resource = next(
        (i, e["resource"]) for i, e in enumerate(bundle["entry"])
        if e["resource"]["resourceType"] == kind
    )  # fmt: skip
    change(resource)
    clinic, importer_user = elsewhere
    before = (Patient.objects.count(), Course.objects.count(), Prescription.objects.count(),
              Organisation.objects.count())  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        importer.import_bundle(bundle, clinic, importer_user)
    assert f"Bundle.entry[{index}].resource.{element}" in caught.value.message_dict, (
        caught.value.message_dict
    )
    after = (Patient.objects.count(), Course.objects.count(), Prescription.objects.count(),
             Organisation.objects.count())  # fmt: skip
    assert after == before


def test_two_open_courses_are_refused(client, demo, elsewhere):
    bundle = exported(client, demo["alice"])
    [plan] = entries(bundle, "CarePlan")
    second = json.loads(json.dumps(plan))
    second["id"] = "course-999"
    second["identifier"][0]["value"] = "2"
    bundle["entry"].append({"fullUrl": "CarePlan/course-999", "resource": second,
                            "request": {"method": "POST", "url": "CarePlan"}})  # fmt: skip
    clinic, importer_user = elsewhere
    with pytest.raises(ValidationError) as caught:
        importer.import_bundle(bundle, clinic, importer_user)
    where = f"Bundle.entry[{len(bundle['entry']) - 1}].resource.status"
    assert "at most one course may be open" in caught.value.message_dict[where][0]
    assert not Patient.objects.filter(clinic=clinic).exists()


def test_the_way_forward_screening_here_continues_the_imported_course(client, demo, elsewhere):
    from isoguard.screenings.services import course_start_from_screening, screening_run

    ben = demo["ben"]
    bundle = exported(client, ben)
    clinic, importer_user = elsewhere
    patient = importer.import_bundle(bundle, clinic, importer_user)
    imported = patient.courses.get()
    filled = Prescription.objects.filter(course=imported, dispense__isnull=False).count()
    screening = screening_run(user=importer_user, patient_id=patient.pk, fields={
        "diagnosis": "severe_recalcitrant_nodular_acne",
        "failed_treatments": ["oral_doxycycline"], "can_become_pregnant": False,
    })  # fmt: skip
    course = course_start_from_screening(
        user=importer_user, screening_id=screening.pk, product=imported.product,
        acknowledge_cautions=True,
    )  # fmt: skip
    assert course.pk == imported.pk  # the same course, with its history
    assert Prescription.objects.filter(course=course, dispense__isnull=False).count() == filled > 0


def test_practitioners_and_organisations_are_read_by_those_whose_records_refer_to_them(
    client, demo, elsewhere
):
    from isoguard.accounts.models import User

    alice = demo["alice"]
    rx = Prescription.objects.filter(course__patient=alice, dispense__isnull=False).first()
    prescriber, pharmacist, pharmacy = rx.prescriber, rx.dispense.pharmacist, rx.dispense.pharmacy
    for reader in (user("dr.rivera"), pharmacist):
        for url in (f"Practitioner/practitioner-{prescriber.pk}", f"Organization/org-{pharmacy.pk}",
                    f"Practitioner/practitioner-{pharmacist.pk}"):  # fmt: skip
            response, resource = get(client, reader, BASE + url)
            assert response.status_code == 200, (reader, url)
            assert resource["id"] == url.split("/")[1]
    # Another clinic's prescriber sees none of them, nor whether they exist.
    _, outsider = elsewhere
    for url in (f"Practitioner/practitioner-{prescriber.pk}", f"Organization/org-{pharmacy.pk}",
                "Practitioner/practitioner-999999"):  # fmt: skip
        client.force_login(outsider)
        response = client.get(BASE + url)
        assert response.status_code == 404, url
    assert (
        AuditEvent.objects.filter(actor=outsider, action="fhir_read", outcome="refused").count()
        == 3
    )
    # Their own account and clinic they may read.
    response, _ = get(client, outsider, f"{BASE}Practitioner/practitioner-{outsider.pk}")
    assert response.status_code == 200
    assert User.objects.filter(pk=outsider.pk).exists()


@pytest.mark.parametrize("name", ["alice", "erin", "fatima"])
def test_every_resource_of_everything_reads_back_by_its_id(client, demo, name):
    patient = demo[name]
    _, bundle = get(client, user("dr.rivera"), f"{BASE}Patient/patient-{patient.pk}/$everything")
    assert len(bundle["entry"]) > 10
    for entry in bundle["entry"]:
        resource = entry["resource"]
        response, read = get(client, None, f"{BASE}{resource['resourceType']}/{resource['id']}")
        assert response.status_code == 200, resource["id"]
        assert read == resource


# --- what the review of the import asked for ------------------------------------------------------


def test_an_imported_open_course_authorises_nothing_until_screened_here(client, demo, elsewhere):
    from isoguard.core.vocabulary import Action
    from isoguard.courses.programme_services import engine_decision

    clinic, importer_user = elsewhere
    patient = importer.import_bundle(exported(client, demo["ben"]), clinic, importer_user)
    course = patient.courses.get()
    assert course.awaiting_screening
    for action in (Action.PRESCRIBE, Action.DISPENSE, Action.START_COURSE):
        decision = engine_decision(course, action, timezone.now())
        assert not decision.allowed and decision.dispense_by is None
        assert decision.findings[0].rule == "screened_here"
        assert "screen the patient" in decision.findings[0].message
    # Its old deadlines do not show: the one step is the screening, on the clinic's worklist.
    from isoguard.courses.selectors import course_timeline
    from isoguard.courses.worklist import worklist_page

    (step,) = course_timeline(course)
    assert (step.id, step.who, step.due) == ("screened_here", "prescriber", timezone.localdate())
    if importer_user.role in ("prescriber", "clinic_staff"):
        items = worklist_page(importer_user, timezone.localdate()).items
        assert [i.what for i in items if i.patient == patient and i.kind == "programme"] == [
            step.what
        ]


def entry_of(bundle: dict, kind: str, test=lambda r: True) -> tuple[int, dict]:
    return next(
        (i, e["resource"]) for i, e in enumerate(bundle["entry"])
        if e["resource"]["resourceType"] == kind and test(e["resource"])
    )  # fmt: skip


def refused(bundle: dict, elsewhere) -> dict:
    clinic, importer_user = elsewhere
    before = Patient.objects.count()
    with pytest.raises(ValidationError) as caught:
        importer.import_bundle(bundle, clinic, importer_user)
    assert Patient.objects.count() == before
    return caught.value.message_dict


def test_a_date_in_the_future_is_refused(client, demo, elsewhere):
    bundle = exported(client, demo["alice"])
    index, test = entry_of(bundle, "Observation", lambda r: r["id"].startswith("pregnancy"))
    test["effectiveDateTime"] = (timezone.localdate() + dt.timedelta(days=20)).isoformat()
    errors = refused(bundle, elsewhere)
    assert "in the future" in errors[f"Bundle.entry[{index}].resource.effectiveDateTime"][0]


def test_a_birth_date_over_120_years_ago_is_refused_as_a_screening_request_refuses_it(
    client, demo, elsewhere
):
    bundle = exported(client, demo["alice"])
    index, patient = entry_of(bundle, "Patient")
    patient["birthDate"] = "1066-10-14"
    errors = refused(bundle, elsewhere)
    assert errors[f"Bundle.entry[{index}].resource.birthDate"] == ["gives an age over 120 years"]


def test_entries_that_are_not_current_facts_are_skipped_with_a_warning(client, demo, elsewhere):
    alice = demo["alice"]
    Allergy.objects.create(patient=alice, substance="latex", recorded_on=dt.date(2026, 1, 5),
                           recorded_by=user("dr.rivera"))  # fmt: skip
    bundle = exported(client, alice)
    c, consent = entry_of(bundle, "Consent")
    consent["status"] = "rejected"
    o, test = entry_of(bundle, "Observation", lambda r: r["id"].startswith("pregnancy"))
    test["status"] = "entered-in-error"
    q, answer = entry_of(bundle, "QuestionnaireResponse")
    answer["status"] = "in-progress"
    d, fill = entry_of(bundle, "MedicationDispense")
    fill["status"] = "declined"
    a, allergy = entry_of(bundle, "AllergyIntolerance")
    allergy["verificationStatus"] = {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
        "code": "refuted"}]}  # fmt: skip
    clinic, importer_user = elsewhere
    client.force_login(importer_user)
    response = client.post(BASE, json.dumps(bundle), content_type="application/fhir+json")
    assert response.status_code == 200, response.content
    answers = response.json()["entry"]
    for index in (c, o, q, d, a):
        assert answers[index]["response"]["status"] == "200 OK", index
        assert answers[index]["response"]["outcome"]["issue"][0]["severity"] == "warning"
    copy_ = Patient.objects.get(clinic=clinic)
    assert copy_.allergies.count() == 0
    # The declined fill is not a fill: its prescription arrives cancelled.
    rx_ref = fill["authorizingPrescription"][0]["reference"]
    rx_index = next(i for i, e in enumerate(bundle["entry"]) if e["fullUrl"].endswith(rx_ref))
    rx_id = answers[rx_index]["response"]["location"].split("-")[-1]
    assert Prescription.objects.get(pk=rx_id).cancelled_at is not None


def test_a_minors_consent_without_a_guardian_is_not_imported(client, demo, elsewhere):
    bundle = exported(client, demo["chloe"])
    for consent in entries(bundle, "Consent"):
        consent["performer"] = [p for p in consent["performer"] if "reference" in p]
    clinic, importer_user = elsewhere
    patient = importer.import_bundle(bundle, clinic, importer_user)
    assert not patient.courses.get().consents.exists()


def test_fills_are_checked_against_their_prescription_and_days_are_days(client, demo, elsewhere):
    bundle = exported(client, demo["alice"])
    index, fill = entry_of(bundle, "MedicationDispense")
    fill["daysSupply"] = {"value": 4, "unit": "wk", "system": "http://unitsofmeasure.org",
                          "code": "wk"}  # fmt: skip
    assert (
        "expected days"
        in refused(bundle, elsewhere)[f"Bundle.entry[{index}].resource.daysSupply"][0]
    )
    bundle = exported(client, demo["alice"])
    index, fill = entry_of(bundle, "MedicationDispense")
    fill["quantity"]["value"] = 9999
    assert (
        "more than the prescription"
        in refused(bundle, elsewhere)[f"Bundle.entry[{index}].resource.quantity"][0]
    )
    bundle = exported(client, demo["alice"])
    index, fill = entry_of(bundle, "MedicationDispense")
    fill["whenHandedOver"] = "2020-01-01"
    assert (
        "before the prescription"
        in refused(bundle, elsewhere)[f"Bundle.entry[{index}].resource.whenHandedOver"][0]
    )


def test_the_same_person_twice_is_refused(client, demo, elsewhere):
    bundle = exported(client, demo["alice"])
    clinic, importer_user = elsewhere
    importer.import_bundle(bundle, clinic, importer_user)
    for resource in entries(bundle, "Patient"):
        resource["identifier"] = []
    assert "already a patient here" in refused(bundle, elsewhere)["Bundle.entry[0].resource"][0]


def test_a_performer_named_only_by_display_is_no_server_error(client, demo, elsewhere):
    bundle = exported(client, demo["alice"])
    _, fill = entry_of(bundle, "MedicationDispense")
    fill["performer"] = [{"actor": {"display": "Main Street Pharmacy"}}]
    clinic, importer_user = elsewhere
    patient = importer.import_bundle(bundle, clinic, importer_user)
    assert Prescription.objects.filter(course__patient=patient, dispense__isnull=False).exists()


def test_a_care_plan_whose_status_contradicts_its_course_status_is_refused(client, demo, elsewhere):
    bundle = exported(client, demo["alice"])
    index, plan = entry_of(bundle, "CarePlan")
    plan["status"] = "revoked"  # while its category says active
    assert "contradicts" in refused(bundle, elsewhere)[f"Bundle.entry[{index}].resource.status"][0]


def test_nobody_active_joins_an_external_organisation(db):
    from isoguard.accounts.models import User

    outside = Organisation.objects.create(name="X (imported)", kind="pharmacy",
                                          jurisdiction="US", external=True)  # fmt: skip
    with pytest.raises(ValidationError, match="external"):
        User(username="pharm.x", role="pharmacist", organisation=outside).full_clean(
            exclude=["password"]
        )


def test_an_imported_course_enrolled_before_screening_is_still_the_one_screening_starts(
    client, demo, elsewhere
):
    from isoguard.screenings.services import course_start_from_screening, screening_run

    clinic, importer_user = elsewhere
    patient = importer.import_bundle(exported(client, demo["ben"]), clinic, importer_user)
    course = patient.courses.get()
    Course.objects.filter(pk=course.pk).update(status="enrolled")  # enrolled here first
    screening = screening_run(user=importer_user, patient_id=patient.pk, fields={
        "diagnosis": "severe_recalcitrant_nodular_acne",
        "failed_treatments": ["oral_doxycycline"], "can_become_pregnant": False,
    })  # fmt: skip
    started = course_start_from_screening(
        user=importer_user, screening_id=screening.pk, product=course.product,
        acknowledge_cautions=True,
    )  # fmt: skip
    assert started.pk == course.pk and not started.awaiting_screening
