"""FHIR search: each parameter filters as the FHIR rules say, paging returns each resource once,
and a bad value is a 400 naming the parameter."""

from __future__ import annotations

import datetime as dt

import pytest
from fhir.resources.R4B import get_fhir_model_class

from isoguard.demo import create_demo
from isoguard.patients.models import Patient
from tests.conftest import TODAY

BASE = "/fhir/R4/"


@pytest.fixture
def alice(db, client):
    from isoguard.accounts.models import User

    create_demo(TODAY)
    client.force_login(User.objects.get(username="dr.rivera"))
    return Patient.objects.get(given_name="Alice")


def search(client, kind: str, **params):
    response = client.get(f"{BASE}{kind}", params)
    assert response.status_code == 200, response.content
    body = response.json()
    model = get_fhir_model_class(body["resourceType"])
    assert model.model_validate(body).model_dump(mode="json") == body
    return body


def ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def everything(client, kind: str, patient: Patient) -> list[dict]:
    bundle = search(client, kind, patient=f"patient-{patient.pk}", _count=200)
    return [e["resource"] for e in bundle.get("entry", [])]


def test_paging_walks_every_page_and_returns_each_resource_once(client, alice):
    every = everything(client, "Observation", alice)
    assert len(every) == 7
    bundle = search(client, "Observation", patient=f"patient-{alice.pk}", _count=3)
    seen, pages = [], 0
    while True:
        pages += 1
        assert bundle["total"] == 7
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert "_count=3" in links["self"] and links["self"].startswith("http://testserver/")
        assert ("previous" in links) == (pages > 1)
        seen += ids(bundle)
        if "next" not in links:
            break
        response = client.get(links["next"])
        assert response.status_code == 200
        bundle = response.json()
    assert pages == 3
    assert seen == [r["id"] for r in every]
    assert len(set(seen)) == 7
    # previous from the last page goes back one page
    back = client.get(links["previous"]).json()
    assert ids(back) == seen[3:6]


def test_the_default_count_is_50_and_more_than_200_is_200(client, alice):
    bundle = search(client, "Observation", patient=f"patient-{alice.pk}")
    assert "_count=50" in bundle["link"][0]["url"]
    bundle = search(client, "Observation", patient=f"patient-{alice.pk}", _count=5000)
    assert "_count=200" in bundle["link"][0]["url"] and len(ids(bundle)) == 7
    bundle = search(client, "Observation", patient=f"patient-{alice.pk}", _count=0)
    assert bundle["total"] == 7 and ids(bundle) == []
    bundle = search(client, "Observation", patient=f"patient-{alice.pk}", _offset=100)
    assert bundle["total"] == 7 and ids(bundle) == []


def test_id(client, alice):
    every = everything(client, "Observation", alice)
    first, last = every[0]["id"], every[-1]["id"]
    bundle = search(client, "Observation", patient=alice.pk, _id=f"{first},{last}")
    assert ids(bundle) == [first, last] and bundle["total"] == 2
    assert ids(search(client, "Observation", patient=alice.pk, _id="lab-999999")) == []


def test_code_as_system_and_code_code_alone_and_or(client, alice):
    every = everything(client, "Observation", alice)

    def codes(resource):
        return {(c.get("system"), c["code"]) for c in resource["code"].get("coding", [])}

    alt = [r["id"] for r in every if ("http://loinc.org", "1742-6") in codes(r)]
    urine = [r["id"] for r in every if ("http://loinc.org", "2106-3") in codes(r)]
    assert alt and urine
    patient = f"patient-{alice.pk}"
    assert (
        ids(search(client, "Observation", patient=patient, code="http://loinc.org|1742-6")) == alt
    )
    assert ids(search(client, "Observation", patient=patient, code="1742-6")) == alt
    both = ids(search(client, "Observation", patient=patient, code="1742-6,2106-3"))
    assert sorted(both) == sorted(alt + urine)
    snomed = "http://snomed.info/sct|1742-6"
    assert ids(search(client, "Observation", patient=patient, code=snomed)) == []
    assert ids(search(client, "Observation", patient=patient, code="|1742-6")) == []  # has a system
    assert len(ids(search(client, "Observation", patient=patient, code="http://loinc.org|"))) == 7
    # Two `code` parameters: both must hold.
    response = client.get(f"{BASE}Observation?patient={patient}&code=1742-6&code=2106-3")
    assert response.json()["total"] == 0


def test_category_and_status(client, alice):
    patient = f"patient-{alice.pk}"
    assert search(client, "Observation", patient=patient, category="laboratory")["total"] == 7
    category = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
    assert search(client, "Observation", patient=patient, category=category)["total"] == 0
    assert search(client, "Observation", patient=patient, status="final")["total"] == 7
    assert search(client, "Observation", patient=patient, status="preliminary")["total"] == 0
    requests = everything(client, "MedicationRequest", alice)
    for status in {r["status"] for r in requests} | {"draft"}:
        found = ids(search(client, "MedicationRequest", patient=patient, status=status))
        assert found == [r["id"] for r in requests if r["status"] == status]
    dispenses = everything(client, "MedicationDispense", alice)
    found = search(client, "MedicationDispense", patient=patient, status="completed,cancelled")
    assert ids(found) == [r["id"] for r in dispenses]


@pytest.mark.parametrize(
    ("kind", "param", "element"),
    [
        ("Observation", "date", "effectiveDateTime"),
        ("MedicationRequest", "authoredon", "authoredOn"),
        ("MedicationDispense", "whenhandedover", "whenHandedOver"),
    ],
)
def test_date_prefixes(client, alice, kind, param, element):
    every = everything(client, kind, alice)
    days = sorted({dt.date.fromisoformat(r[element][:10]) for r in every})
    assert days
    pivot = days[len(days) // 2]
    patient = f"patient-{alice.pk}"

    def found(*values):
        query = "&".join(f"{param}={v}" for v in values)
        response = client.get(f"{BASE}{kind}?patient={patient}&_count=200&{query}")
        assert response.status_code == 200, response.content
        return ids(response.json())

    def expected(test):
        return [r["id"] for r in every if test(dt.date.fromisoformat(r[element][:10]))]

    iso = pivot.isoformat()
    assert found(iso) == found(f"eq{iso}") == expected(lambda d: d == pivot)
    assert found(f"ne{iso}") == expected(lambda d: d != pivot)
    assert found(f"gt{iso}") == expected(lambda d: d > pivot)
    assert found(f"lt{iso}") == expected(lambda d: d < pivot)
    assert found(f"ge{iso}") == expected(lambda d: d >= pivot)
    assert found(f"le{iso}") == expected(lambda d: d <= pivot)
    # A month is a range: eq is within it, ge from its first day, lt before it.
    month = pivot.strftime("%Y-%m")
    assert found(month) == expected(lambda d: (d.year, d.month) == (pivot.year, pivot.month))
    assert found(f"lt{month}") == expected(lambda d: d < pivot.replace(day=1))
    assert found(f"eq{pivot.year}") == expected(lambda d: d.year == pivot.year)
    # Repeated: AND; comma: OR.
    low, high = days[0], days[-1]
    assert found(f"ge{low}", f"le{high}") == [r["id"] for r in every]
    assert found(f"gt{high}", f"lt{low}") == []
    assert found(f"gt{high},lt{low}") == []
    assert found(f"{low},{high}") == expected(lambda d: d in (low, high))


def test_sort_by_date(client, alice):
    every = everything(client, "Observation", alice)
    newest = search(client, "Observation", patient=alice.pk, _sort="-date", _count=200)
    dates = [e["resource"]["effectiveDateTime"] for e in newest["entry"]]
    assert dates == sorted(dates, reverse=True) and len(dates) == len(every)
    oldest = search(client, "Observation", patient=alice.pk, _sort="date", _count=200)
    dates = [e["resource"]["effectiveDateTime"] for e in oldest["entry"]]
    assert dates == sorted(dates)
    # Paging follows the order asked for.
    page = search(client, "Observation", patient=alice.pk, _sort="-date", _count=2, _offset=2)
    assert ids(page) == ids(newest)[2:4]
    rxs = search(client, "MedicationRequest", patient=alice.pk, _sort="-authoredon")
    authored = [e["resource"]["authoredOn"] for e in rxs["entry"]]
    assert authored == sorted(authored, reverse=True)


@pytest.mark.parametrize(
    ("kind", "query", "param"),
    [
        ("Observation", "_count=ten", "_count"),
        ("Observation", "_count=-1", "_count"),
        ("Observation", "_count=1&_count=2", "_count"),
        ("Observation", "_offset=x", "_offset"),
        ("Observation", "date=2026-13-01", "date"),
        ("Observation", "date=ab2026-01-01", "date"),
        ("Observation", "date=2026-01-01T10:00", "date"),
        ("Observation", "date=", "date"),
        ("Observation", "code=", "code"),
        ("Observation", "code=a,,b", "code"),
        ("Observation", "code=|", "code"),
        ("Observation", "authoredon=2026", "authoredon"),
        ("Observation", "_sort=code", "_sort"),
        ("MedicationRequest", "_sort=date", "_sort"),
        ("MedicationRequest", "code=6064", "code"),
        ("MedicationRequest", "authoredon=le2026-02-30", "authoredon"),
        ("MedicationDispense", "whenhandedover=yesterday", "whenhandedover"),
        ("Observation", "flavour=sweet", "flavour"),
        ("Observation", "code:text=alt", "code:text"),
    ],
)
def test_a_bad_search_is_a_400_naming_the_parameter(client, alice, kind, query, param):
    response = client.get(f"{BASE}{kind}?patient=patient-{alice.pk}&{query}")
    assert response.status_code == 400, (query, response.content)
    issue = response.json()["issue"][0]
    assert issue["code"] == "invalid"
    assert issue["expression"] == [param]
    assert issue["diagnostics"].startswith(f"{param}:")


def test_patient_and_subject(client, alice):
    every = ids(search(client, "Observation", patient=alice.pk))
    assert ids(search(client, "Observation", subject=f"Patient/patient-{alice.pk}")) == every
    other = Patient.objects.exclude(pk=alice.pk).first()
    response = client.get(f"{BASE}Observation?patient={alice.pk}&subject={other.pk}")
    assert response.status_code == 400


def test_the_capability_statement_lists_each_types_parameters(client, alice):
    statement = client.get(f"{BASE}metadata").json()
    params = {
        r["type"]: {p["name"]: p["type"] for p in r.get("searchParam", [])}
        for r in statement["rest"][0]["resource"]
    }
    for name, kind in {"patient": "reference", "_id": "token", "_count": "number",
                       "code": "token", "category": "token", "date": "date",
                       "_sort": "string"}.items():  # fmt: skip
        assert params["Observation"][name] == kind
    assert params["MedicationRequest"]["authoredon"] == "date"
    assert params["MedicationRequest"]["status"] == "token"
    assert params["MedicationDispense"]["whenhandedover"] == "date"


def test_the_course_condition_and_allergy_parameters(client, alice):
    from isoguard.accounts.models import User
    from isoguard.patients.models import Allergy

    patient = f"patient-{alice.pk}"
    [plan] = everything(client, "CarePlan", alice)
    assert ids(search(client, "CarePlan", patient=patient, status="active")) == [plan["id"]]
    assert ids(search(client, "CarePlan", patient=patient, status="completed")) == []
    code = "urn:isoguard:course-status|active"
    assert ids(search(client, "CarePlan", patient=patient, category=code)) == [plan["id"]]
    start = plan["period"]["start"]
    assert ids(search(client, "CarePlan", patient=patient, date=f"ge{start}")) == [plan["id"]]
    assert ids(search(client, "CarePlan", patient=patient, date=f"lt{start}")) == []
    [condition] = everything(client, "Condition", alice)
    icd = condition["code"]["coding"][0]["code"]
    found = search(
        client, "Condition", patient=patient, code=f"http://hl7.org/fhir/sid/icd-10|{icd}"
    )
    assert ids(found) == [condition["id"]]
    assert ids(search(client, "Condition", patient=patient, code="L99.9")) == []
    Allergy.objects.create(patient=alice, substance="parabens", recorded_on=dt.date(2026, 3, 1),
                           recorded_by=User.objects.get(username="dr.rivera"))  # fmt: skip
    assert len(ids(search(client, "AllergyIntolerance", patient=patient, date="2026-03"))) == 1
    assert ids(search(client, "AllergyIntolerance", patient=patient, date="2026-04")) == []
    response = client.get(f"{BASE}CarePlan", {"patient": patient, "date": "soon"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["date"]


def test_each_resource_is_validated_once_and_the_bundle_around_them_once(
    client, alice, monkeypatch
):
    # The resources are validated as they are built (mapping.py); the Bundle validates only its
    # own elements around them. The body as served still validates whole (search() checks it).
    from isoguard.interop.fhir import mapping

    validated: list[str] = []
    real = mapping._valid

    def counting(model, data):
        validated.append(model.__name__)
        return real(model, data)

    monkeypatch.setattr(mapping, "_valid", counting)
    response = client.get(f"{BASE}Patient/patient-{alice.pk}/$everything")
    assert response.status_code == 200
    body = response.json()
    served = [e["resource"]["resourceType"] for e in body["entry"]]
    assert validated.count("Bundle") == 1
    assert sorted(v for v in validated if v != "Bundle") == sorted(served)
    # Inside the Bundle the resources are put in as they were built, not parsed again.
    built = mapping.patient_resource(alice)
    wrapped = mapping.bundle("searchset", [built], "http://testserver/fhir/R4/")
    assert wrapped["entry"][0]["resource"] is built
    assert wrapped["entry"][0]["fullUrl"] == f"http://testserver/fhir/R4/Patient/{built['id']}"
    validated.clear()
    bundle = search(client, "Observation", patient=f"patient-{alice.pk}", _count=3)
    assert validated.count("Bundle") == 1 and bundle["total"] == 7 and len(ids(bundle)) == 3
    assert validated.count("Observation") == 7  # the patient's observations, built once each
