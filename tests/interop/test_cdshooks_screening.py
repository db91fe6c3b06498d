"""CDS Hooks: cards from isoguard's screening and from the medicines the EHR lists."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.core.knowledge.screening_data import load_screening
from isoguard.patients.models import Patient
from isoguard.screenings.models import Screening
from isoguard.screenings.services import screening_run
from tests.interop import test_cdshooks as base
from tests.interop.test_cdshooks import (
    AMOXICILLIN,
    ISOTRETINOIN_20,
    cards_of,
    medication_request,
    named,
    order_sign,
    patient_resource,
    post,
    service_url,
    token,
)

demo = base.demo  # the fixture: the demo clinic, trusted as the issuer ISS

FIELDS = {
    "diagnosis": "severe_recalcitrant_nodular_acne",
    "failed_treatments": ["topical_benzoyl_peroxide", "oral_doxycycline"],
}
DOXYCYCLINE = ("1650143", "doxycycline hyclate 100 MG Oral Capsule")


def prescriber() -> User:
    return User.objects.get(username="dr.rivera")


def screen(patient: Patient, **fields) -> Screening:
    return screening_run(
        user=prescriber(),
        patient_id=patient.pk,
        fields={**FIELDS, "can_become_pregnant": False, **fields},
    )


def new_patient(clinic, given: str = "Gus", jurisdiction: str = "US") -> Patient:
    return Patient.objects.create(
        clinic=clinic, given_name=given, family_name="New", birth_date=dt.date(2000, 3, 4),
        jurisdiction=jurisdiction, clinic_record_number=f"RD-{given}",
    )  # fmt: skip


def order_cards(client, patient: Patient, *medicines: dict, mg: tuple[int, ...] = (40, 40)):
    body = order_sign(medication_request(*ISOTRETINOIN_20, mg_doses=mg), patient)
    if medicines:
        body["prefetch"]["medications"] = {
            "resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": {**m, "id": f"ehr-{n}", "status": "active"}}
                      for n, m in enumerate(medicines)],
        }  # fmt: skip
    return cards_of(post(client, service_url(), body))


def finding(screening: Screening, finding_id: str) -> dict:
    return next(f for f in screening.result["findings"] if f["id"] == finding_id)


def screening_page(screening: Screening) -> str:
    return "http://testserver" + reverse("screening_detail", args=[screening.pk])


# The screening -----------------------------------------------------------------------------------


def test_a_contraindication_of_the_screening_is_a_critical_card_quoting_it(client, demo):
    gus = new_patient(demo)
    screening = screen(gus, pregnant=True, can_become_pregnant=True)
    cards = order_cards(client, gus)
    pregnant = finding(screening, "pregnant")
    critical = [c for c in cards if c["indicator"] == "critical"]
    assert len(critical) == 1
    (card,) = critical
    assert card["summary"].startswith("Screening contraindication: ")
    assert pregnant["message"][:60] in card["summary"]
    assert pregnant["message"] in card["detail"] and pregnant["source"] in card["detail"]
    assert pregnant["action"] in card["detail"]
    assert card["source"] == {"label": "isoguard", "url": screening_page(screening)}
    assert card["links"][0]["url"] == screening_page(screening)
    # The patient has no course: one more card says so, pointing at the screening.
    assert [c["summary"] for c in cards if c["indicator"] == "warning"] == [
        "No isotretinoin course in isoguard for this patient: the screening found the patient"
        " not eligible"
    ]


def test_an_eligible_screening_without_a_course_says_to_start_one(client, demo):
    gus = new_patient(demo)
    screening = screen(gus)
    cards = order_cards(client, gus)
    assert [(c["indicator"], c["summary"]) for c in cards] == [
        ("warning", "No isotretinoin course in isoguard for this patient: start one from the"
                    " screening"),
    ]  # fmt: skip
    assert cards[0]["source"]["url"] == screening_page(screening)


def test_each_caution_is_a_warning_card_with_its_source(client, demo):
    gus = new_patient(demo)
    screening = screen(gus, medicines=["minocycline 100 mg"], history=["a bad knee"])
    cards = order_cards(client, gus)
    warnings = [c for c in cards if c["indicator"] == "warning" and "Screening" in c["summary"]]
    assert {c["summary"].split(":")[0] for c in warnings} == {"Screening caution"}
    expected = [f for f in screening.result["findings"] if f["severity"] == "caution"]
    assert {f["id"] for f in expected} == {"interaction:tetracyclines", "history_not_recognised"}
    assert len(warnings) == 2
    for card, found in zip(warnings, expected, strict=True):
        assert found["source"] in card["detail"] and found["matched"] in card["detail"]


def test_info_findings_are_not_cards(client, demo):
    # Ben's screening found only notes (register in iPLEDGE): his cards are the programme's.
    cards = order_cards(client, named("Ben"))
    assert [c["indicator"] for c in cards] == ["info", "info"]


def test_acknowledged_cautions_are_one_info_card(client, demo):
    dev = named("Dev")
    screening = screen(dev, medicines=["minocycline 100 mg"])
    assert [c["indicator"] for c in order_cards(client, dev)].count("warning") == 1
    screening.course = dev.courses.get()
    screening.cautions_acknowledged_by = prescriber()
    screening.cautions_acknowledged_at = timezone.now()
    screening.save()

    cards = order_cards(client, dev)
    assert not [c for c in cards if c["summary"].startswith("Screening caution")]
    (info,) = [c for c in cards if c["indicator"] == "info"]
    assert info["summary"].startswith("1 screening caution acknowledged by Ana Rivera on ")
    assert finding(screening, "interaction:tetracyclines")["message"] in info["detail"]


def test_a_screening_newer_than_the_courses_own_is_the_one_shown(client, demo):
    ben = named("Ben")
    assert [c["indicator"] for c in order_cards(client, ben)] == ["info", "info"]
    screen(ben, pregnant=True, can_become_pregnant=True)  # after the course started
    cards = order_cards(client, ben)
    assert "critical" in [c["indicator"] for c in cards]
    assert any("pregnan" in c["summary"].lower() for c in cards if c["indicator"] == "critical")


def test_a_patient_never_screened_gets_a_not_screened_warning(client, demo):
    cards = order_cards(client, named("Dev"))
    (card,) = [c for c in cards if "screened" in c["summary"]]
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Not screened in isoguard")
    new = "http://testserver" + reverse("screening_new", args=[named("Dev").pk])
    assert card["source"]["url"] == new


def test_no_course_and_no_screening_is_one_warning(client, demo):
    cards = order_cards(client, new_patient(demo))
    assert [c["summary"] for c in cards] == [
        "No isotretinoin course in isoguard and not screened: screen and enrol first"
    ]


def test_patient_view_shows_the_screening_cards_too(client, demo):
    gus = new_patient(demo)
    screen(gus, pregnant=True, can_become_pregnant=True)
    body = order_sign(medication_request(*ISOTRETINOIN_20), gus)
    body["hook"] = "patient-view"
    del body["context"]["draftOrders"]
    url = service_url("isoguard-patient-view")
    cards = cards_of(post(client, url, body, token(url)))
    assert [c["indicator"] for c in cards] == ["critical", "warning"]


# The EHR's medicines -----------------------------------------------------------------------------


def test_an_interacting_medicine_in_the_ehr_is_a_card_citing_the_knowledge(client, demo):
    cards = order_cards(client, named("Ben"), medication_request(*DOXYCYCLINE, mg_doses=(100,)))
    (card,) = [c for c in cards if c["indicator"] == "warning"]
    tetracyclines = next(i for i in load_screening().interactions if i.id == "tetracyclines")
    assert card["summary"].startswith("Interaction with tetracycline antibiotics (EHR medication")
    assert tetracyclines.message in card["detail"] and tetracyclines.source in card["detail"]
    assert DOXYCYCLINE[1] in card["detail"]
    assert "screening did not find it" in card["detail"]
    assert cards[0] is card  # most urgent first


def test_the_country_sets_the_severity(client, demo):
    # Tetracyclines: a caution in the US, a contraindication in the UK (screening.toml).
    uk = new_patient(demo, "Una", jurisdiction="UK")
    cards = order_cards(client, uk, medication_request(*DOXYCYCLINE))
    assert [c["indicator"] for c in cards] == ["critical", "warning"]
    assert "tetracycline" in cards[0]["summary"]


def test_a_medicine_coded_only_by_rxnorm_is_matched_by_its_code(client, demo):
    coded = medication_request("3640", "")
    concept = coded["medicationCodeableConcept"]
    del concept["text"], concept["coding"][0]["display"]
    cards = order_cards(client, named("Ben"), coded)
    assert any("tetracycline" in c["summary"] for c in cards)
    assert "“RxNorm 3640”" in next(c for c in cards if "tetracycline" in c["summary"])["detail"]


@pytest.mark.parametrize(
    "medicine",
    [
        pytest.param(AMOXICILLIN, id="no interaction"),
        pytest.param(("000", "doxycycline 1% gel"), id="a topical form"),
        pytest.param(("000", "benzoyl peroxide 5% gel"), id="an info-level interaction"),
        pytest.param(("000", "norethindrone 0.35 mg (minipill)"), id="the minipill for a man"),
        pytest.param(("000", "isotretinoin 20 mg"), id="isotretinoin itself"),
    ],
)
def test_medicines_that_do_not_need_a_card(client, demo, medicine):
    cards = order_cards(client, named("Ben"), medication_request(*medicine))
    assert [c["indicator"] for c in cards] == ["info", "info"]


def test_the_minipill_is_flagged_for_a_patient_who_can_become_pregnant(client, demo):
    cards = order_cards(
        client, named("Alice"), medication_request("000", "norethindrone 0.35 mg (minipill)")
    )
    assert any("progestin-only pill" in c["summary"] for c in cards)


def test_stopped_medicines_and_other_resources_are_ignored(client, demo):
    stopped = {**medication_request(*DOXYCYCLINE)}
    body = order_sign(medication_request(*ISOTRETINOIN_20, mg_doses=(40, 40)), named("Ben"))
    body["prefetch"]["medications"] = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {**stopped, "id": "old", "status": "stopped"}},
            {"resource": {"resourceType": "OperationOutcome", "issue": []}},
        ],
    }
    assert [c["indicator"] for c in cards_of(post(client, service_url(), body))] == ["info"] * 2


def test_a_medicine_by_reference_is_read_from_the_bundle(client, demo):
    request = medication_request(*DOXYCYCLINE)
    del request["medicationCodeableConcept"]
    request["medicationReference"] = {"reference": "Medication/doxy"}
    body = order_sign(medication_request(*ISOTRETINOIN_20, mg_doses=(40, 40)), named("Ben"))
    body["prefetch"]["medications"] = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {**request, "id": "ehr-1", "status": "active"}},
            {"resource": {"resourceType": "Medication", "id": "doxy",
                          "code": {"text": "Doxycycline 100 mg capsule"}}},
        ],
    }  # fmt: skip
    cards = cards_of(post(client, service_url(), body))
    assert any("tetracycline" in c["summary"] for c in cards)


def test_one_card_when_the_screening_and_the_ehr_find_the_same_interaction(client, demo):
    gus = new_patient(demo)
    screen(gus, medicines=["minocycline 100 mg"])
    cards = order_cards(client, gus, medication_request(*DOXYCYCLINE))
    about = [c for c in cards if "etracycline" in c["summary"]]
    assert len(about) == 1
    assert "EHR medication list" in about[0]["summary"]
    assert "found it too (from “minocycline 100 mg”)" in about[0]["detail"]


def test_a_malformed_medications_prefetch_is_400(client, demo):
    body = order_sign(medication_request(*ISOTRETINOIN_20), named("Ben"))
    body["prefetch"]["medications"] = patient_resource(named("Ben"))
    response = post(client, service_url(), body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["prefetch.medications"]


def test_patient_view_does_not_check_the_ehr_medicines(client, demo):
    body = order_sign(medication_request(*ISOTRETINOIN_20), named("Ben"))
    body["hook"] = "patient-view"
    del body["context"]["draftOrders"]
    body["prefetch"]["medications"] = {
        "resourceType": "Bundle",
        "entry": [{"resource": {**medication_request(*DOXYCYCLINE), "id": "x"}}],
    }
    url = service_url("isoguard-patient-view")
    assert [c["indicator"] for c in cards_of(post(client, url, body, token(url)))] == ["info"]
