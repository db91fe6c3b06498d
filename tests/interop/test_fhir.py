"""FHIR R4: every resource isoguard emits validates, an export imports back, and access holds.

The endpoints are mounted here at /fhir/R4/ by this module's own URLconf (`urlpatterns` below),
as src/isoguard/urls.py will mount them.
"""

from __future__ import annotations

import copy
import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class

from isoguard.accounts.models import Organisation
from isoguard.audit.models import AuditEvent
from isoguard.courses.models import (
    LabResult,
    MonthlyCheck,
    PregnancyTest,
    Prescription,
    ProgrammeDecision,
)
from isoguard.demo import create_demo
from isoguard.interop.fhir import importer, mapping
from isoguard.patients.models import Patient
from tests.conftest import TODAY, make_user

BASE = "/fhir/R4/"
# What an import does not read back: another system's findings, and the actors, which become
# external organisations and inactive accounts named as in the Bundle (importer.py).
NOT_READ_BACK = ("DetectedIssue", "Organization", "Practitioner")


def reparse(resource: dict) -> dict:
    """Validate a resource (and a Bundle's entries) with fhir.resources R4B; return it."""
    model = get_fhir_model_class(resource["resourceType"])
    parsed = model.model_validate(resource)
    assert parsed.model_dump(mode="json") == resource
    for entry in resource.get("entry", []):
        if "resource" in entry:
            reparse(entry["resource"])
    return resource


def get(client, user, url, **params):
    if user is not None:
        client.force_login(user)
    response = client.get(url, params)
    assert response["Content-Type"].startswith("application/fhir+json")
    return response, reparse(response.json())


def resources(bundle: dict, kind: str | None = None) -> list[dict]:
    found = [e["resource"] for e in bundle.get("entry", [])]
    return [r for r in found if kind is None or r["resourceType"] == kind]


@pytest.fixture
def demo(db):
    create_demo(TODAY)
    return {p.given_name.lower(): p for p in Patient.objects.all()}


@pytest.fixture
def decision(demo):
    """A refused dispense of Fatima's open prescription, with one finding met and one not."""
    from isoguard.accounts.models import User

    rx = Prescription.objects.filter(course__patient=demo["fatima"], dispense=None).get()
    return ProgrammeDecision.objects.create(
        course=rx.course, prescription=rx, action="dispense", pack="us-ipledge-2026",
        as_of=timezone.now(), allowed=False, requested_by=User.objects.get(username="pharm.chen"),
        findings=[
            {"rule": "negative_test_in_window", "status": "met", "message": "ok", "source": "x"},
            {"rule": "comprehension", "status": "unmet", "message": "No comprehension check.",
             "source": "programs.md 1.6", "deadline": None},
        ],
    )  # fmt: skip


def user(username: str):
    from isoguard.accounts.models import User

    return User.objects.get(username=username)


# --- every emitted resource validates -----------------------------------------------------------


def test_everything_of_each_demo_patient_validates_and_has_what_the_record_holds(
    client, demo, decision
):
    for patient in demo.values():
        response, bundle = get(
            client, user("dr.rivera"), f"{BASE}Patient/patient-{patient.pk}/$everything"
        )
        assert response.status_code == 200
        assert bundle["type"] == "searchset"
        ids = [f"{r['resourceType']}/{r['id']}" for r in resources(bundle)]
        assert len(ids) == len(set(ids))
        # Every reference inside the Bundle resolves inside the Bundle.
        text = json.dumps(bundle)
        for reference in set(_references(bundle)):
            assert reference in ids, (reference, text[:200])
    alice = demo["alice"]
    _, bundle = get(client, None, f"{BASE}Patient/patient-{alice.pk}/$everything")
    kinds = {r["resourceType"] for r in resources(bundle)}
    assert kinds >= {
        "Patient",
        "Organization",
        "Practitioner",
        "MedicationRequest",
        "MedicationDispense",
        "Observation",
        "Consent",
        "QuestionnaireResponse",
        "CarePlan",
    }
    assert len(resources(bundle, "Condition")) == alice.diagnoses.count()
    assert len(resources(bundle, "AllergyIntolerance")) == alice.allergies.count()
    fatima = demo["fatima"]
    _, bundle = get(client, None, f"{BASE}Patient/patient-{fatima.pk}/$everything")
    [issue] = resources(bundle, "DetectedIssue")
    assert issue["id"] == f"issue-{decision.pk}-1"
    assert issue["severity"] == "high"
    assert issue["implicated"] == [
        {"reference": f"MedicationRequest/rx-{decision.prescription_id}"}
    ]
    assert "No comprehension check." in issue["detail"]


def _references(data):
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(data, list):
        for item in data:
            yield from _references(item)


def test_the_patient_resource(client, demo):
    alice = demo["alice"]
    response, resource = get(client, user("dr.rivera"), f"{BASE}Patient/patient-{alice.pk}")
    assert response.status_code == 200
    assert resource["id"] == f"patient-{alice.pk}"
    assert resource["identifier"] == [
        {"system": mapping.RECORD_NUMBER, "value": alice.clinic_record_number}
    ]
    assert resource["name"] == [{"use": "official", "family": "Moreno", "given": ["Alice"]}]
    assert resource["gender"] == "female"
    assert resource["birthDate"] == alice.birth_date.isoformat()
    assert resource["managingOrganization"] == {"reference": f"Organization/org-{alice.clinic_id}"}


def test_a_medication_request_and_its_dispense(client, demo):
    alice = demo["alice"]
    _, bundle = get(
        client, user("dr.rivera"), f"{BASE}MedicationRequest", patient=f"patient-{alice.pk}"
    )
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 2
    rx = Prescription.objects.filter(course__patient=alice).order_by("written_on").first()
    first = resources(bundle)[0]
    assert first["id"] == f"rx-{rx.pk}"
    assert first["status"] == "completed"  # dispensed
    assert first["intent"] == "order"
    assert first["medicationCodeableConcept"]["coding"] == [
        {"system": mapping.RXNORM, "code": "6064", "display": "isotretinoin"},
        {"system": mapping.PRODUCT, "code": "claravis", "display": "Claravis"},
    ]
    assert first["medicationCodeableConcept"]["text"].startswith("Claravis")
    morning, evening = first["dosageInstruction"]
    assert morning["timing"]["repeat"]["when"] == ["MORN"]
    assert evening["timing"]["repeat"]["when"] == ["EVE"]
    mg = [d["doseAndRate"][0]["doseQuantity"]["value"] for d in (morning, evening)]
    assert sum(mg) == rx.daily_dose_mg
    request = first["dispenseRequest"]
    assert request["numberOfRepeatsAllowed"] == 0
    assert request["expectedSupplyDuration"] == {
        "value": 30, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"
    }  # fmt: skip
    assert request["validityPeriod"]["start"] == rx.written_on.isoformat()
    _, bundle = get(client, None, f"{BASE}MedicationDispense", patient=f"patient-{alice.pk}")
    dispense = resources(bundle)[0]
    assert dispense["authorizingPrescription"] == [{"reference": f"MedicationRequest/rx-{rx.pk}"}]
    assert dispense["whenHandedOver"] == rx.dispense.dispensed_on.isoformat()
    assert dispense["daysSupply"]["value"] == 30


def test_the_validity_period_ends_on_the_last_day_to_fill_when_a_decision_gave_one(client, demo):
    rx = Prescription.objects.filter(course__patient=demo["fatima"], dispense=None).get()
    ProgrammeDecision.objects.create(
        course=rx.course, prescription=rx, action="dispense", pack="us-ipledge-2026",
        as_of=timezone.now(), allowed=True, dispense_by=TODAY, findings=[],
        requested_by=user("pharm.chen"),
    )  # fmt: skip
    _, resource = get(client, user("dr.rivera"), f"{BASE}MedicationRequest/rx-{rx.pk}")
    assert resource["status"] == "active"
    assert resource["dispenseRequest"]["validityPeriod"] == {
        "start": rx.written_on.isoformat(), "end": TODAY.isoformat()
    }  # fmt: skip


def test_pregnancy_tests_and_labs_as_observations(client, demo):
    alice = demo["alice"]
    _, bundle = get(
        client, user("nurse.kim"), f"{BASE}Observation", patient=f"Patient/patient-{alice.pk}"
    )
    found = resources(bundle)
    tests = [o for o in found if o["id"].startswith("pregnancy-test-")]
    labs = [o for o in found if o["id"].startswith("lab-")]
    assert len(tests) == PregnancyTest.objects.filter(patient=alice).count() == 3
    assert len(labs) == LabResult.objects.filter(patient=alice).count() == 4
    urine = next(t for t in tests if t["code"]["coding"][0]["code"] == "2106-3")
    assert urine["valueCodeableConcept"]["coding"] == [
        {"system": "http://snomed.info/sct", "code": "260385009", "display": "Negative"}
    ]
    assert urine["method"]["coding"] == [{"system": mapping.TEST_SETTING, "code": "clinic"}]
    alt = next(o for o in labs if o["code"]["coding"][0]["code"] == "1742-6")
    assert alt["valueQuantity"] == {
        "value": 22.0, "unit": "U/L", "system": "http://unitsofmeasure.org", "code": "U/L"
    }  # fmt: skip


def test_consents_and_mood_screens(client, demo):
    chloe = demo["chloe"]
    _, bundle = get(client, user("dr.rivera"), f"{BASE}Consent", patient=f"patient-{chloe.pk}")
    kinds = {c["category"][0]["coding"][0]["code"] for c in resources(bundle)}
    assert kinds == {"informed_consent", "pregnancy_prevention"}
    assert all({"display": "parent or guardian"} in c["performer"] for c in resources(bundle))
    _, bundle = get(client, None, f"{BASE}QuestionnaireResponse", patient=f"patient-{chloe.pk}")
    [mood] = [r for r in resources(bundle) if r["id"].startswith("mood-")]
    assert mood["questionnaire"] == "urn:isoguard:questionnaire:phq_a"
    monthly = [r for r in resources(bundle) if r["id"].startswith("monthly-")]
    assert len(monthly) == MonthlyCheck.objects.filter(course__patient=chloe).count() > 0
    assert all(m["questionnaire"].startswith(mapping.MONTHLY_CHECK) for m in monthly)
    answers = {i["linkId"]: i["answer"][0] for i in mood["item"]}
    assert answers["1"] == {"valueInteger": 1} and answers["9"] == {"valueInteger": 0}
    assert answers["total"] == {"valueInteger": 2}


# --- round trip -----------------------------------------------------------------------------------


def transaction_of(bundle: dict) -> dict:
    """The $everything searchset as a transaction Bundle, as another system would send it."""
    entries = [
        {"fullUrl": e["fullUrl"], "resource": e["resource"],
         "request": {"method": "POST", "url": e["resource"]["resourceType"]}}
        for e in bundle["entry"]
    ]  # fmt: skip
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _without_ids(value):
    """References as their type only (ids differ by database); the resource's own id dropped."""
    if isinstance(value, dict):
        return {
            k: (v.split("/")[0] if k == "reference" and isinstance(v, str) else _without_ids(v))
            for k, v in value.items()
            if k != "id"
        }
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def comparable(bundle: dict, *, as_imported: bool = False) -> list[dict]:
    """The resources import reads back, without ids. `as_imported` applies the two deliberate
    changes of importer.py to an export: an open course arrives in screening, and a prescription
    never filled arrives cancelled (so it has no last day to fill)."""
    out = []
    for resource in resources(bundle):
        if resource["resourceType"] in NOT_READ_BACK:
            continue
        resource = _without_ids(copy.deepcopy(resource))
        if as_imported and resource["resourceType"] == "CarePlan":
            status = resource["category"][0]["coding"][0]["code"]
            if status in ("enrolled", "active"):
                resource["status"] = "draft"
                resource["category"] = [
                    {"coding": [{"system": mapping.COURSE_STATUS, "code": "screening"}],
                     "text": "isotretinoin course (screening)"}
                ]  # fmt: skip
                resource["activity"][0]["detail"]["status"] = "not-started"
        unfilled = ("active", "stopped", "cancelled")
        if (
            as_imported
            and resource["resourceType"] == "MedicationRequest"
            and (resource["status"] in unfilled)
        ):
            resource["status"] = "cancelled"
            resource["dispenseRequest"]["validityPeriod"].pop("end", None)
        out.append(resource)
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True))


@pytest.mark.parametrize("name", ["alice", "ben", "chloe", "dev", "erin", "fatima"])
def test_round_trip_export_import_export(client, demo, name):
    patient = demo[name]
    _, exported = get(client, user("dr.rivera"), f"{BASE}Patient/patient-{patient.pk}/$everything")
    elsewhere = Organisation.objects.create(name="Elsewhere", kind="clinic", jurisdiction="US")
    importer_ = make_user("importer", "prescriber", elsewhere)
    client.force_login(importer_)
    response = client.post(
        BASE, json.dumps(transaction_of(exported)), content_type="application/fhir+json"
    )
    assert response.status_code == 200, response.content
    answer = reparse(response.json())
    assert answer["type"] == "transaction-response"
    assert len(answer["entry"]) == len(exported["entry"])
    kinds = [e["resource"]["resourceType"] for e in exported["entry"]]
    for kind, entry in zip(kinds, answer["entry"], strict=True):
        created = entry["response"]["status"] == "201 Created"
        assert created == (kind not in NOT_READ_BACK), (kind, entry)
        if not created:  # each entry not read back says why
            assert entry["response"]["outcome"]["issue"][0]["severity"] == "warning"
    copy_ = Patient.objects.get(clinic=elsewhere)
    assert AuditEvent.objects.filter(
        action="fhir_import", patient_id=copy_.pk, actor=importer_
    ).exists()
    _, again = get(client, importer_, f"{BASE}Patient/patient-{copy_.pk}/$everything")
    assert comparable(again) == comparable(exported, as_imported=True)
    # The history's actors are external and cannot log in; nothing imported can be filled here.
    for rx in Prescription.objects.filter(course__patient=copy_):
        assert rx.prescriber.is_active is False and not rx.prescriber.has_usable_password()
        assert rx.pharmacy is None or rx.pharmacy.external
        assert rx.cancelled_at is not None or hasattr(rx, "dispense")
    assert not copy_.courses.filter(status__in=["enrolled", "active"]).exists()


def test_import_rejects_invalid_input_naming_the_element(world):
    clinic, prescriber = world.other_clinic, world.other_prescriber
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "name": [
            {"family": "X", "given": ["Y"]}], "birthDate": "2001-02-03"}},
        {"resource": {"resourceType": "Observation", "status": "final", "subject": {
            "reference": "urn:uuid:p"}, "code": {"coding": [{"system": "http://loinc.org",
            "code": "1742-6"}]}, "effectiveDateTime": "2026-01-02",
            "valueQuantity": {"value": 20, "unit": "mg/dL"}}},
    ]}  # fmt: skip
    before = Patient.objects.count()
    with pytest.raises(ValidationError) as caught:
        importer.import_bundle(bundle, clinic, prescriber)
    assert "Bundle.entry[1].resource.valueQuantity.unit" in caught.value.message_dict
    assert Patient.objects.count() == before  # nothing stored

    bundle["entry"][1]["resource"]["valueQuantity"]["unit"] = "U/L"
    bundle["entry"][1]["resource"]["code"]["coding"][0]["code"] = "9999-9"
    with pytest.raises(ValidationError) as caught:
        importer.import_bundle(bundle, clinic, prescriber)
    assert "Bundle.entry[1].resource.code" in caught.value.message_dict

    bundle["entry"][0]["resource"]["birthDate"] = "03/02/2001"
    with pytest.raises(ValidationError) as caught:
        importer.import_bundle(json.dumps(bundle), clinic, prescriber)
    assert "Bundle.entry[0].resource.birthDate" in caught.value.message_dict
    assert Patient.objects.count() == before


def test_a_pregnancy_test_without_its_setting_is_refused_not_guessed(world):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "name": [
            {"family": "X", "given": ["Y"]}], "birthDate": "2001-02-03"}},
        {"resource": {"resourceType": "Observation", "status": "final", "subject": {
            "reference": "urn:uuid:p"}, "code": {"coding": [{"system": "http://loinc.org",
            "code": "2106-3"}]}, "effectiveDateTime": "2026-01-02",
            "valueCodeableConcept": {"text": "negative"}}},
    ]}  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        importer.import_bundle(bundle, world.clinic, world.prescriber)
    assert "Bundle.entry[1].resource.method" in caught.value.message_dict


def test_invalid_post_is_a_400_operation_outcome_and_audited(client, world):
    client.force_login(world.prescriber)
    response = client.post(BASE, '{"resourceType": "Bundle", "type": "collection"}',
                           content_type="application/fhir+json")  # fmt: skip
    assert response.status_code == 400
    outcome = reparse(response.json())
    assert outcome["issue"][0]["expression"] == ["Bundle.type"]
    assert AuditEvent.objects.filter(action="fhir_import", outcome="refused").exists()


# --- access -------------------------------------------------------------------------------------


def test_anonymous_gets_401(client, world):
    for url in (
        f"{BASE}Patient/patient-{world.alice.pk}",
        f"{BASE}Observation?patient={world.alice.pk}",
    ):
        response = client.get(url)
        assert response.status_code == 401
        assert reparse(response.json())["issue"][0]["code"] == "login"
    assert client.post(BASE, "{}", content_type="application/fhir+json").status_code == 401


def test_another_clinics_prescriber_gets_403_and_it_is_audited(client, world):
    for url in (
        f"{BASE}Patient/patient-{world.alice.pk}",
        f"{BASE}Patient/patient-{world.alice.pk}/$everything",
        f"{BASE}MedicationRequest?patient=patient-{world.alice.pk}",
    ):
        response, outcome = get(client, world.other_prescriber, url)
        assert response.status_code == 403
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "forbidden"
    refused = AuditEvent.objects.filter(actor=world.other_prescriber, outcome="refused")
    assert refused.filter(patient_id=world.alice.pk).count() == 3


def test_unknown_is_404(client, world):
    for url in (
        f"{BASE}Patient/patient-999999",
        f"{BASE}Patient/nonsense",
        f"{BASE}Flag?patient={world.alice.pk}",
        f"{BASE}MedicationRequest/rx-999999",
    ):
        response, outcome = get(client, world.prescriber, url)
        assert response.status_code == 404, url
        assert outcome["issue"][0]["code"] == "not-found"


def test_a_search_without_patient_is_400(client, world):
    response, outcome = get(client, world.prescriber, f"{BASE}Observation")
    assert response.status_code == 400
    assert outcome["issue"][0]["code"] == "invalid"


def test_reads_are_audited(client, world):
    get(client, world.prescriber, f"{BASE}Patient/patient-{world.alice.pk}")
    get(client, world.prescriber, f"{BASE}Observation", patient=str(world.alice.pk))
    allowed = AuditEvent.objects.filter(
        actor=world.prescriber, patient_id=world.alice.pk, outcome="allowed"
    )
    actions = set(allowed.values_list("action", flat=True))
    assert {"fhir_read", "fhir_search"} <= actions


def test_a_pharmacist_sees_only_prescriptions_presented_there(client, world):
    alice = world.alice
    response, resource = get(client, world.pharmacist, f"{BASE}Patient/patient-{alice.pk}")
    assert response.status_code == 200
    assert resource["id"] == f"patient-{alice.pk}"
    _, bundle = get(client, None, f"{BASE}MedicationRequest", patient=f"patient-{alice.pk}")
    assert len(resources(bundle)) == 1
    # Not the clinical record: labs, tests, consents, mood screens.
    response, outcome = get(client, None, f"{BASE}Observation", patient=f"patient-{alice.pk}")
    assert response.status_code == 403
    assert "pharmacist" in outcome["issue"][0]["diagnostics"]
    _, everything = get(client, None, f"{BASE}Patient/patient-{alice.pk}/$everything")
    assert {r["resourceType"] for r in resources(everything)} <= {
        "Patient", "Organization", "Practitioner", "MedicationRequest", "MedicationDispense"
    }  # fmt: skip
    # Bob has no prescription at Main Street; Alice none at Harbour.
    response, _ = get(client, None, f"{BASE}Patient/patient-{world.bob.pk}")
    assert response.status_code == 403
    response, _ = get(client, world.other_pharmacist, f"{BASE}Patient/patient-{alice.pk}")
    assert response.status_code == 403


def test_a_pharmacist_does_not_see_another_pharmacys_prescription_of_the_same_patient(
    client, world
):
    from tests.conftest import make_prescription

    course = world.alice.courses.get()
    other = make_prescription(course, world.prescriber, world.other_pharmacy)
    _, bundle = get(
        client, world.pharmacist, f"{BASE}MedicationRequest", patient=str(world.alice.pk)
    )
    assert f"rx-{other.pk}" not in {r["id"] for r in resources(bundle)}
    response, _ = get(client, None, f"{BASE}MedicationRequest/rx-{other.pk}")
    assert response.status_code == 404


def test_only_clinic_roles_may_import(client, world):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "X", "given": ["Y"]}],
                      "birthDate": "2001-02-03"}}]}  # fmt: skip
    for someone in (world.pharmacist, world.alice_user, world.guardian, world.admin):
        client.force_login(someone)
        response = client.post(BASE, json.dumps(bundle), content_type="application/fhir+json")
        assert response.status_code == 403, someone.role
    client.force_login(world.staff)
    response = client.post(BASE, json.dumps(bundle), content_type="application/fhir+json")
    assert response.status_code == 200
    assert Patient.objects.get(family_name="X").clinic == world.clinic


def test_post_needs_the_csrf_token_with_a_session(world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.prescriber)
    response = client.post(BASE, "{}", content_type="application/fhir+json")
    assert response.status_code == 403
    assert "CSRF" in reparse(response.json())["issue"][0]["diagnostics"]


def test_metadata(client, db):
    response, statement = get(client, None, f"{BASE}metadata")
    assert response.status_code == 200
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    [rest] = statement["rest"]
    kinds = {r["type"]: r for r in rest["resource"]}
    assert set(kinds) == {"Patient", "Observation", "MedicationRequest", "MedicationDispense",
                          "Consent", "QuestionnaireResponse", "DetectedIssue", "Condition",
                          "AllergyIntolerance", "CarePlan", "Practitioner",
                          "Organization"}  # fmt: skip
    assert kinds["Practitioner"]["interaction"] == [{"code": "read"}]
    assert kinds["Patient"]["operation"][0]["name"] == "everything"
    assert {"code": "search-type"} in kinds["Observation"]["interaction"]
    assert rest["interaction"] == [{"code": "transaction"}]


# --- a real FHIR client -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_fhirclient_reads_and_searches_over_http(live_server, client):
    from fhirclient import client as fhir_client
    from fhirclient.models.medicationrequest import MedicationRequest
    from fhirclient.models.observation import Observation
    from fhirclient.models.patient import Patient as ClientPatient

    create_demo(TODAY)
    alice = Patient.objects.get(given_name="Alice")
    client.force_login(user("dr.rivera"))
    smart = fhir_client.FHIRClient(
        settings={"app_id": "isoguard-tests", "api_base": f"{live_server.url}{BASE}"}
    )
    # The live server's thread keeps its database connection while the client's keep-alive
    # connection is open; closing the session ends both now, not whenever the garbage collector
    # frees the client (a connection left open blocks dropping the PostgreSQL test database).
    try:
        smart.server.session.cookies.set("sessionid", client.cookies["sessionid"].value)
        smart.server.get_capability()  # GET metadata, parsed as an R4 CapabilityStatement
        assert smart.server.capabilityStatement.fhirVersion == "4.0.1"
        patient = ClientPatient.read(f"patient-{alice.pk}", smart.server)
        assert patient.name[0].family == "Moreno"
        assert patient.birthDate.date == alice.birth_date
        search = MedicationRequest.where({"patient": f"patient-{alice.pk}"})
        requests = list(search.perform_resources_iter(smart.server))
        assert [r.intent for r in requests] == ["order", "order"]
        assert requests[0].dispenseRequest.expectedSupplyDuration.value == 30
        search = Observation.where({"patient": f"patient-{alice.pk}"})
        observations = list(search.perform_resources_iter(smart.server))
        assert len(observations) == 7
    finally:
        smart.server.session.close()


def test_the_clinics_thresholds_apply_to_the_check_the_import_shares(settings):
    """lab_services.checked_lab is what the page and the FHIR import both call."""
    import datetime as dt

    from isoguard.courses.lab_services import checked_lab

    settings.ISOGUARD_LAB_THRESHOLDS = {
        "triglycerides": [{"value": 400, "unit": "mg/dL", "level": "review",
                           "action": "clinic: recheck", "source": "clinic protocol"}]
    }  # fmt: skip
    lab = checked_lab("triglycerides", "450", "mg/dL", dt.date(2026, 11, 1),
                      born=dt.date(2001, 5, 4))  # fmt: skip
    assert [f["action"] for f in lab.findings] == ["clinic: recheck"]
