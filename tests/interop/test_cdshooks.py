"""CDS Hooks: discovery, a signed EHR call, the programme's cards, the dose suggestion, feedback.

The reads of the EHR's FHIR server are in test_cdshooks_fetch.py, the screening's cards and the
EHR medicines' interactions in test_cdshooks_screening.py; both use this module's helpers.
"""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from isoguard.accounts.models import Organisation
from isoguard.audit.models import AuditEvent
from isoguard.demo import create_demo
from isoguard.interop.cdshooks.auth import ConfigError, issuers
from isoguard.interop.cdshooks.cards import Card, CardsResponse
from isoguard.interop.cdshooks.models import CardFeedback
from isoguard.patients.models import Patient

ISS = "https://ehr.example.org"
MRN = "urn:oid:2.16.840.1.113883.19.5"
KEY = ec.generate_private_key(ec.SECP384R1())
OTHER_KEY = ec.generate_private_key(ec.SECP384R1())


def pem(private_key) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def demo(db, settings):
    create_demo(timezone.localdate())
    clinic = Organisation.objects.get(name="Riverside Dermatology")
    settings.ISOGUARD_CDS_AUDIENCE = ""
    settings.ISOGUARD_CDS_ISSUERS = {
        ISS: {"keys": [pem(KEY)], "algorithms": ["ES384", "ES256"], "clinic_id": clinic.pk,
              "identifier_system": MRN},
    }  # fmt: skip
    return clinic


def token(url: str, *, key=KEY, iss: str = ISS, alg: str = "ES384", **claims) -> str:
    now = int(time.time())
    payload = {"iss": iss, "aud": f"http://testserver{url}", "iat": now, "exp": now + 300,
               "jti": str(uuid.uuid4()), **claims}  # fmt: skip
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": "ehr-1", "typ": "JWT"})


def post(client, url: str, body: dict, bearer: str | None = "sign"):
    headers = {}
    if bearer == "sign":
        bearer = token(url)
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return client.post(url, body, content_type="application/json", headers=headers)


def service_url(service_id: str = "isoguard-order-sign") -> str:
    return reverse("cdshooks:service", args=[service_id])


def patient_resource(patient: Patient | None, fhir_id: str = "1288992") -> dict:
    value = patient.clinic_record_number if patient else "NOBODY-1"
    resource = {
        "resourceType": "Patient", "id": fhir_id,
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.1", "value": "999-99-9999"},
                       {"system": MRN, "value": value}],
    }  # fmt: skip
    if patient:
        resource["birthDate"] = patient.birth_date.isoformat()
    return resource


def medication_request(code: str, display: str, mg_doses: tuple[int, ...] = (30, 30)) -> dict:
    return {
        "resourceType": "MedicationRequest", "id": "smart-MedicationRequest-103",
        "status": "draft", "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code,
                        "display": display}], "text": display},
        "subject": {"reference": "Patient/1288992"},
        "dosageInstruction": [
            {"text": f"{mg} mg", "timing": {"repeat": {"frequency": 1, "period": 1,
                                                       "periodUnit": "d"}},
             "doseAndRate": [{"doseQuantity": {"value": mg, "unit": "mg",
                                               "system": "http://unitsofmeasure.org",
                                               "code": "mg"}}]}
            for mg in mg_doses
        ],
    }  # fmt: skip


AMOXICILLIN = ("617993", "Amoxicillin 120 MG/ML / clavulanate potassium 8.58 MG/ML Oral Suspension")
ISOTRETINOIN_20 = ("197844", "isotretinoin 20 MG Oral Capsule")


def order_sign(order: dict, patient: Patient | None = None, *, prefetch: bool = True) -> dict:
    """The order-sign example request of the CDS Hooks library, with isoguard's prefetch."""
    body = {
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": "https://fhir.example.org",
        "hook": "order-sign",
        "context": {
            "userId": "Practitioner/example",
            "patientId": "1288992",
            "encounterId": "89284",
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": order}]},
        },
    }
    if prefetch:
        body["prefetch"] = {"patient": patient_resource(patient), "medications": None}
    return body


def cards_of(response) -> list[dict]:
    assert response.status_code == 200, response.content
    body = response.json()
    CardsResponse.model_validate(body)  # the pydantic models of the spec accept every card
    for card in body["cards"]:
        assert len(card["summary"]) < 140
        assert card["source"]["label"] == "isoguard"
        uuid.UUID(card["uuid"])
    return body["cards"]


def outcome_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    OperationOutcome.model_validate(body)
    return body["issue"][0]


def named(given: str) -> Patient:
    return Patient.objects.get(given_name=given)


# Discovery ---------------------------------------------------------------------------------------


def test_discovery_lists_the_three_services_with_their_prefetch(client, db):
    body = client.get(reverse("cdshooks:discovery")).json()
    hooks = {s["id"]: s["hook"] for s in body["services"]}
    assert hooks == {
        "isoguard-order-sign": "order-sign",
        "isoguard-order-select": "order-select",
        "isoguard-patient-view": "patient-view",
    }
    for service in body["services"]:
        assert service["description"]
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert "http://loinc.org|2106-3" in service["prefetch"]["pregnancyTests"]
    assert reverse("cdshooks:discovery") == "/cds-services"


# Authentication ---------------------------------------------------------------------------------


def test_the_spec_example_with_a_signed_token_and_no_isotretinoin_gets_no_cards(client, demo):
    response = post(client, service_url(), order_sign(medication_request(*AMOXICILLIN)))
    assert cards_of(response) == []
    event = AuditEvent.objects.get(action="cds_hook")
    assert event.actor is None and event.detail["issuer"] == ISS
    assert event.object_id == "isoguard-order-sign"


def test_an_es256_token_of_the_sandbox_kind_is_accepted(client, demo, settings):
    p256 = ec.generate_private_key(ec.SECP256R1())
    settings.ISOGUARD_CDS_ISSUERS[ISS]["keys"].append(pem(p256))
    url = service_url()
    bearer = token(url, key=p256, alg="ES256", sub="cds-hooks/sandbox")
    assert cards_of(post(client, url, order_sign(medication_request(*AMOXICILLIN)), bearer)) == []


def test_an_rs384_token_is_accepted_with_the_key_given_as_a_jwk(client, demo, settings):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "r1"}
    settings.ISOGUARD_CDS_ISSUERS[ISS] = {**settings.ISOGUARD_CDS_ISSUERS[ISS], "keys": [jwk],
                                          "algorithms": ["RS384"]}  # fmt: skip
    url = service_url()
    now = int(time.time())
    claims = {"iss": ISS, "aud": f"http://testserver{url}", "iat": now, "exp": now + 300}
    signed = jwt.encode({**claims, "jti": "j1"}, rsa_key, algorithm="RS384", headers={"kid": "r1"})
    assert (
        post(client, url, order_sign(medication_request(*AMOXICILLIN)), signed).status_code == 200
    )
    other_kid = jwt.encode(
        {**claims, "jti": "j2"}, rsa_key, algorithm="RS384", headers={"kid": "r2"}
    )
    assert (
        post(client, url, order_sign(medication_request(*AMOXICILLIN)), other_kid).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("bearer", "reason"),
    [
        pytest.param(None, "Bearer JWT is required", id="no token"),
        pytest.param("not-a-jwt", "not a JWT", id="garbage"),
        pytest.param(lambda url: token(url, key=OTHER_KEY), "signature", id="bad signature"),
        pytest.param(
            lambda url: token(url, iss="https://evil.example.org"),
            "issuer is not trusted",
            id="unknown issuer",
        ),
        pytest.param(
            lambda url: token(url, aud="https://elsewhere.example.org/cds-services"),
            "aud must be",
            id="wrong audience",
        ),
        pytest.param(lambda url: token(url, exp=int(time.time()) - 120), "expired", id="expired"),
        pytest.param(
            lambda url: jwt.encode(
                {
                    "iss": ISS,
                    "aud": f"http://testserver{url}",
                    "iat": int(time.time()),
                    "exp": int(time.time()) + 60,
                    "jti": "x",
                },
                "a-shared-secret-of-32-bytes-or-more!",
                algorithm="HS256",
            ),
            "HS256",
            id="hmac",
        ),
        pytest.param(
            lambda url: jwt.encode(
                {
                    "iss": ISS,
                    "aud": f"http://testserver{url}",
                    "iat": int(time.time()),
                    "exp": int(time.time()) + 60,
                },
                KEY,
                algorithm="ES384",
            ),
            '"jti"',
            id="no jti",
        ),
    ],
)
def test_a_missing_or_bad_token_is_401_and_audited(client, demo, bearer, reason):
    url = service_url()
    response = post(
        client, url, order_sign(medication_request(*ISOTRETINOIN_20), named("Ben")),
        bearer(url) if callable(bearer) else bearer,
    )  # fmt: skip
    issue = outcome_of(response, 401)
    assert issue["code"] == "login" and reason in issue["diagnostics"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert AuditEvent.objects.filter(action="cds_hook", outcome="refused").exists()
    assert not AuditEvent.objects.filter(action="cds_hook", outcome="allowed").exists()


def test_a_replayed_token_is_refused(client, demo):
    url = service_url()
    bearer = token(url)
    body = order_sign(medication_request(*AMOXICILLIN))
    assert post(client, url, body, bearer).status_code == 200
    assert outcome_of(post(client, url, body, bearer), 401)["diagnostics"].endswith("replay)")
    # Kept in the database, not in a process's memory: another worker or server refuses it too.
    from django.core.cache import cache

    from isoguard.interop.cdshooks.models import SeenToken

    cache.clear()
    assert SeenToken.objects.count() == 1
    assert outcome_of(post(client, url, body, bearer), 401)["diagnostics"].endswith("replay)")


def test_a_token_for_another_service_is_refused(client, demo):
    bearer = token(service_url("isoguard-patient-view"))
    response = post(client, service_url(), order_sign(medication_request(*AMOXICILLIN)), bearer)
    assert response.status_code == 401


def test_no_trusted_issuer_by_default_refuses_everyone(client, demo, settings):
    settings.ISOGUARD_CDS_ISSUERS = {}
    assert (
        post(client, service_url(), order_sign(medication_request(*AMOXICILLIN))).status_code == 401
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"keys": ["not a key"]}, "not a PEM public key"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "EC or RSA"),
        ({"keys": [], "algorithms": ["ES384"]}, "non-empty list"),
        ({"keys": ["x"], "algorithms": ["HS256"]}, "algorithms"),
    ],
)
def test_a_malformed_issuer_setting_is_reported(config, message):
    with pytest.raises(ConfigError, match=message):
        issuers({ISS: config})


# Validation -------------------------------------------------------------------------------------


def test_a_missing_hook_instance_is_400_naming_it(client, demo):
    body = order_sign(medication_request(*ISOTRETINOIN_20), named("Ben"))
    del body["hookInstance"]
    issue = outcome_of(post(client, service_url(), body), 400)
    assert issue["code"] == "required" and issue["expression"] == ["hookInstance"]


def test_missing_draft_orders_are_400_naming_them(client, demo):
    body = order_sign(medication_request(*ISOTRETINOIN_20), named("Ben"))
    del body["context"]["draftOrders"]
    issue = outcome_of(post(client, service_url(), body), 400)
    assert issue["expression"] == ["context.draftOrders"]


def test_a_body_for_another_hook_is_400(client, demo):
    body = order_sign(medication_request(*ISOTRETINOIN_20), named("Ben"))
    body["hook"] = "patient-view"
    assert outcome_of(post(client, service_url(), body), 400)["expression"] == ["hook"]


def test_an_unknown_service_is_404(client, demo):
    url = service_url("nope")
    assert post(client, url, {}, token(url)).status_code == 404


def test_without_the_prefetched_patient_the_answer_is_412(client, demo):
    # fhirServer but no fhirAuthorization: isoguard may not read the EHR's server
    # (test_cdshooks_fetch.py has the reads).
    body = order_sign(medication_request(*ISOTRETINOIN_20), named("Ben"), prefetch=False)
    issue = outcome_of(post(client, service_url(), body), 412)
    assert issue["expression"] == ["prefetch.patient"]
    assert issue["diagnostics"].startswith(
        "prefetch.patient was not sent, and the request has no fhirServer with fhirAuthorization"
    )


# Cards -------------------------------------------------------------------------------------------


def test_a_blocked_prescription_gets_a_critical_card_naming_the_rule(client, demo):
    fatima = named("Fatima")
    body = order_sign(medication_request(*ISOTRETINOIN_20), fatima)
    cards = cards_of(post(client, service_url(), body))
    critical = [c for c in cards if c["indicator"] == "critical"]
    assert len(critical) == 1
    assert "counselling.monthly" in critical[0]["summary"]
    assert critical[0]["summary"].startswith("iPLEDGE not met")
    assert "REMS" in critical[0]["detail"]
    course = fatima.courses.get()
    assert critical[0]["source"]["url"] == f"http://testserver/courses/{course.pk}/programme/"
    event = AuditEvent.objects.get(action="cds_hook")
    assert event.patient_id == fatima.pk and event.detail["allowed"] is False


def test_every_unmet_requirement_gets_its_own_card(client, demo):
    cards = cards_of(
        post(client, service_url(), order_sign(medication_request(*ISOTRETINOIN_20), named("Dev")))
    )
    rules = [
        c["summary"].split("(")[1].split(")")[0] for c in cards if c["indicator"] == "critical"
    ]
    assert rules == ["enrolment", "consent.informed", "counselling.at_enrolment", "supply"]


def test_a_compliant_prescription_gets_the_info_card(client, demo):
    body = order_sign(medication_request(*ISOTRETINOIN_20, mg_doses=(40, 40)), named("Ben"))
    cards = cards_of(post(client, service_url(), body))
    assert [c["indicator"] for c in cards] == ["info", "info"]
    assert cards[0]["summary"] == "iPLEDGE requirements met; the prescription may be written"
    assert cards[1]["summary"].startswith("Dose matches isoguard's plan")


def test_a_dose_off_the_plan_gets_a_suggestion_updating_the_draft_order(client, demo):
    order = medication_request(*ISOTRETINOIN_20, mg_doses=(30, 30))
    cards = cards_of(post(client, service_url(), order_sign(order, named("Ben"))))
    dose = next(c for c in cards if "suggestions" in c)
    assert dose["indicator"] == "warning" and dose["selectionBehavior"] == "at-most-one"
    (suggestion,) = dose["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "update"
    resource = action["resource"]
    assert resource["id"] == order["id"] and resource["status"] == "draft"
    MedicationRequest.model_validate(resource)
    doses = [d["doseAndRate"][0]["doseQuantity"]["value"] for d in resource["dosageInstruction"]]
    assert doses == [40, 40]  # Ben's plan: 80 mg a day, 40 mg morning and evening
    assert [d["timing"]["repeat"]["when"] for d in resource["dosageInstruction"]] == [
        ["MORN"],
        ["EVE"],  # Absorica: with or without food
    ]


def test_a_product_name_in_the_text_is_recognised(client, demo):
    order = medication_request("000000", "Claravis 20 mg capsule")
    order["medicationCodeableConcept"]["coding"][0]["system"] = "http://example.org/local"
    cards = cards_of(post(client, service_url(), order_sign(order, named("Fatima"))))
    assert any(c["indicator"] == "critical" for c in cards)


def test_an_unreadable_dose_still_gets_the_suggestion(client, demo):
    order = medication_request(*ISOTRETINOIN_20)
    order["dosageInstruction"][0]["timing"]["repeat"]["period"] = 0
    cards = cards_of(post(client, service_url(), order_sign(order, named("Ben"))))
    dose = next(c for c in cards if "suggestions" in c)
    assert "a dose isoguard cannot read" in dose["detail"]


def test_a_patient_isoguard_does_not_know_gets_a_not_enrolled_card(client, demo):
    cards = cards_of(
        post(client, service_url(), order_sign(medication_request(*ISOTRETINOIN_20), None))
    )
    assert [c["indicator"] for c in cards] == ["warning"]
    assert "not enrolled in isoguard" in cards[0]["summary"]


def test_a_matching_record_number_with_another_birth_date_is_not_matched(client, demo):
    body = order_sign(medication_request(*ISOTRETINOIN_20), named("Ben"))
    body["prefetch"]["patient"]["birthDate"] = "1900-01-01"
    cards = cards_of(post(client, service_url(), body))
    assert "birth date differs" in cards[0]["detail"]


def test_a_patient_with_no_course_gets_a_warning(client, demo):
    patient = Patient.objects.create(
        clinic=demo, given_name="Gus", family_name="New", birth_date=named("Ben").birth_date,
        jurisdiction="US", clinic_record_number="RD-9999",
    )  # fmt: skip
    cards = cards_of(
        post(client, service_url(), order_sign(medication_request(*ISOTRETINOIN_20), patient))
    )
    assert [c["indicator"] for c in cards] == ["warning"]
    assert "No isotretinoin course" in cards[0]["summary"]


def test_order_select_looks_at_the_selected_order_only(client, demo):
    order = medication_request(*ISOTRETINOIN_20)
    body = order_sign(order, named("Fatima"))
    body["hook"] = "order-select"
    body["context"]["selections"] = ["MedicationRequest/other"]
    url = service_url("isoguard-order-select")
    assert cards_of(post(client, url, body, token(url))) == []
    body["context"]["selections"] = [f"MedicationRequest/{order['id']}"]
    assert cards_of(post(client, url, body, token(url)))


def test_patient_view_shows_the_programme_status_without_a_dose_card(client, demo):
    body = order_sign(medication_request(*ISOTRETINOIN_20), named("Fatima"))
    body["hook"] = "patient-view"
    del body["context"]["draftOrders"]
    url = service_url("isoguard-patient-view")
    cards = cards_of(post(client, url, body, token(url)))
    assert [c["indicator"] for c in cards] == ["critical"]
    body["prefetch"]["patient"] = patient_resource(None)
    assert cards_of(post(client, url, body, token(url))) == []  # not followed: nothing to say


def test_the_card_models_enforce_the_spec():
    source = {"label": "isoguard"}
    with pytest.raises(ValueError, match="selectionBehavior"):
        Card.model_validate({"summary": "x", "indicator": "info", "source": source,
                             "suggestions": [{"label": "do it"}]})  # fmt: skip
    with pytest.raises(ValueError, match="at most 139"):
        Card.model_validate({"summary": "x" * 140, "indicator": "info", "source": source})
    with pytest.raises(ValueError):
        Card.model_validate({"summary": "x", "indicator": "hard-stop", "source": source})


# Feedback and the ETASU check -------------------------------------------------------------------


def test_feedback_is_stored(client, demo):
    url = reverse("cdshooks:feedback", args=["isoguard-order-sign"])
    card = str(uuid.uuid4())
    body = {
        "feedback": [
            {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-25T14:30:00Z",
             "overrideReason": {"reason": {"code": "patient-refused", "system": "http://example.org/reasons",
                                           "display": "The patient refused"},
                                "userComment": "Discussed alternatives"}},
            {"card": card, "outcome": "accepted", "outcomeTimestamp": "2026-11-25T14:31:00Z",
             "acceptedSuggestions": [{"id": str(uuid.uuid4())}]},
        ]
    }  # fmt: skip
    response = post(client, url, body, token(url))
    assert response.status_code == 200
    rows = CardFeedback.objects.order_by("outcome_timestamp")
    assert [r.outcome for r in rows] == ["overridden", "accepted"]
    assert rows[0].override_reason["reason"]["code"] == "patient-refused"
    assert rows[0].issuer == ISS and rows[0].card_uuid == card
    assert rows[0].service_id == "isoguard-order-sign"
    assert AuditEvent.objects.filter(action="cds_feedback", actor=None).count() == 2


def test_feedback_without_a_timestamp_is_400_and_stores_nothing(client, demo):
    url = reverse("cdshooks:feedback", args=["isoguard-order-sign"])
    body = {"feedback": [{"card": "c1", "outcome": "overridden"}]}
    issue = outcome_of(post(client, url, body, token(url)), 400)
    assert issue["expression"] == ["feedback.0.outcomeTimestamp"]
    assert not CardFeedback.objects.exists()


def test_the_etasu_check_lists_each_requirement(client, demo):
    fatima = named("Fatima")
    url = reverse("cdshooks:etasu", args=[fatima.pk])
    body = client.get(url, headers={"Authorization": f"Bearer {token(url)}"}).json()
    assert body["met"] is False
    unmet = [r["rule"] for r in body["requirements"] if not r["met"]]
    assert unmet == ["counselling.monthly"]
    assert AuditEvent.objects.filter(action="rems_etasu", patient_id=fatima.pk).exists()


def test_the_etasu_check_is_limited_to_the_issuers_clinic(client, demo):
    other = Organisation.objects.create(name="Elsewhere", kind="clinic", jurisdiction="US")
    stranger = Patient.objects.create(
        clinic=other, given_name="Ike", family_name="Far", birth_date=named("Ben").birth_date,
        jurisdiction="US",
    )  # fmt: skip
    url = reverse("cdshooks:etasu", args=[stranger.pk])
    response = client.get(url, headers={"Authorization": f"Bearer {token(url)}"})
    assert response.status_code == 404
    assert client.get(url).status_code == 401
