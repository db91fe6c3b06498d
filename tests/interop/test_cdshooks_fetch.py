"""CDS Hooks: what the prefetch leaves out is read from the EHR's FHIR server, if it may be.

A fake EHR FHIR server runs for real on 127.0.0.1 (http.server in a thread): it answers canned
Patient and MedicationRequest JSON and records each request it gets, the Authorization header
included, so the tests see exactly what isoguard sent and when it sent nothing.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from isoguard.audit.models import AuditEvent
from isoguard.interop.cdshooks import fhirserver
from isoguard.interop.cdshooks.auth import ConfigError, fhir_server_allowed, issuers
from isoguard.interop.cdshooks.fhirserver import Unavailable, render
from isoguard.settings import env_seconds
from tests.interop import test_cdshooks as base
from tests.interop.test_cdshooks import (
    ISOTRETINOIN_20,
    ISS,
    cards_of,
    medication_request,
    named,
    order_sign,
    outcome_of,
    patient_resource,
    post,
    service_url,
)

demo = base.demo  # the fixture: the demo clinic, trusted as the issuer ISS

ACCESS_TOKEN = "some-opaque-fhir-access-token-7f3a9c"
DOXYCYCLINE = ("1650143", "doxycycline hyclate 100 MG Oral Capsule")


@dataclass
class FakeEhr:
    """A FHIR server: path (with query) -> (status, content type, body); and what it was asked."""

    base: str = ""
    routes: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    delay: float = 0.0

    def answer(self, path: str, resource: Any, status: int = 200, kind: str = "") -> None:
        body = resource if isinstance(resource, bytes) else json.dumps(resource).encode()
        self.routes[path] = (status, kind or "application/fhir+json; charset=utf-8", body)

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]


@pytest.fixture
def ehr():
    fake = FakeEhr()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            fake.requests.append(
                {"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}
            )
            if fake.delay:
                time.sleep(fake.delay)
            status, kind, body = fake.routes.get(
                self.path, (404, "application/fhir+json", b'{"resourceType": "OperationOutcome"}')
            )
            self.send_response(status)
            self.send_header("Content-Type", kind)
            if status in (301, 302):
                self.send_header("Location", f"{fake.base}/Patient/elsewhere")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)  # unless isoguard stopped reading: too large, too slow

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.base = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def allowed(demo, settings, ehr):
    """The fake server is one of the issuer's fhir_servers; Ben's Patient and medicines on it."""
    settings.ISOGUARD_CDS_ISSUERS[ISS]["fhir_servers"] = [ehr.base]
    settings.ISOGUARD_CDS_FHIR_TIMEOUT = 2.0
    ehr.answer("/fhir/Patient/1288992", patient_resource(named("Ben")))
    ehr.answer(MEDICATIONS_PATH, searchset(medication_request(*DOXYCYCLINE, mg_doses=(100,))))
    return ehr


MEDICATIONS_PATH = "/fhir/MedicationRequest?patient=1288992&status=active"


def searchset(*resources: dict, next_url: str | None = None) -> dict:
    bundle: dict = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {**r, "id": f"ehr-{n}-{r['id']}", "status": "active", "intent": "order"}}
            for n, r in enumerate(resources)
        ],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def without_prefetch(ehr: FakeEhr, patient=None, **changes) -> dict:
    """The spec's order-sign example with fhirServer and fhirAuthorization, and no prefetch."""
    body = order_sign(medication_request(*ISOTRETINOIN_20, mg_doses=(40, 40)), patient,
                      prefetch=False)  # fmt: skip
    body["fhirServer"] = ehr.base
    body["fhirAuthorization"] = {
        "access_token": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/Patient.read user/MedicationRequest.read",
        "subject": "isoguard-cds",
    }
    body.update(changes)
    return body


def comparable(cards: list[dict]) -> list[dict]:
    """The cards without their random uuids."""
    text = json.dumps(cards)
    for card in cards:
        text = text.replace(card["uuid"], "uuid")
        for suggestion in card.get("suggestions", []):
            text = text.replace(suggestion["uuid"], "uuid")
    return json.loads(text)


def no_token_kept():
    """The access token is in no audit event (nor its reason, detail or path)."""
    for event in AuditEvent.objects.all():
        assert ACCESS_TOKEN not in json.dumps([event.reason, event.detail, event.path])


# The spec's example ------------------------------------------------------------------------------


def spec_example(ehr: FakeEhr) -> dict:
    """The order-sign R4 example of the CDS Hooks library (a diet and a medicine order), with
    isotretinoin as the medicine, and the spec's example fhirAuthorization."""
    isotretinoin = medication_request(*ISOTRETINOIN_20, mg_doses=(40, 40))
    return {
        "hook": "order-sign",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": ehr.base,
        "fhirAuthorization": {
            "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300,
            "scope": "patient/Patient.read patient/Observation.read", "subject": "cds-service4",
        },
        "context": {
            "userId": "PractitionerRole/123", "patientId": "1288992", "encounterId": "89284",
            "draftOrders": {"resourceType": "Bundle", "entry": [
                {"resource": {
                    "resourceType": "NutritionOrder", "id": "pureeddiet-simple",
                    "status": "draft", "intent": "order",
                    "patient": {"reference": "Patient/1288992"}, "dateTime": "2014-09-17",
                    "orderer": {"reference": "Practitioner/example", "display": "Dr Adam Careful"},
                    "oralDiet": {"type": [{"coding": [{"system": "http://snomed.info/sct",
                                                       "code": "226211001",
                                                       "display": "Pureed diet"}],
                                           "text": "Pureed diet"}]},
                }},
                {"resource": isotretinoin},
            ]},
        },
    }  # fmt: skip


def test_the_spec_example_with_and_without_prefetch(client, allowed):
    without = spec_example(allowed)
    with_prefetch = {**spec_example(allowed), "prefetch": {
        "patient": patient_resource(named("Ben")),
        "medications": searchset(medication_request(*DOXYCYCLINE, mg_doses=(100,))),
        "pregnancyTests": None,
    }}  # fmt: skip
    prefetched = cards_of(post(client, service_url(), with_prefetch))
    assert allowed.requests == []
    fetched = cards_of(post(client, service_url(), without))
    assert allowed.paths() == ["/fhir/Patient/1288992", MEDICATIONS_PATH]
    assert comparable(fetched) == comparable(prefetched)
    assert [c["indicator"] for c in fetched] == ["warning", "info", "info"]


def test_the_spec_example_with_a_bad_signature_is_401_and_reads_nothing(client, allowed):
    url = service_url()
    response = post(client, url, spec_example(allowed), base.token(url, key=base.OTHER_KEY))
    assert outcome_of(response, 401)["diagnostics"] == "the token's signature does not verify"
    assert allowed.requests == []


def test_the_spec_example_without_the_patient_id_is_400_naming_it(client, allowed):
    body = spec_example(allowed)
    del body["context"]["patientId"]
    issue = outcome_of(post(client, service_url(), body), 400)
    assert issue["expression"] == ["context.patientId"] and issue["code"] == "required"
    assert allowed.requests == []


# Prefetch first ----------------------------------------------------------------------------------


def test_a_full_prefetch_is_used_and_the_server_is_not_read(client, allowed):
    body = without_prefetch(allowed, prefetch={"patient": patient_resource(named("Ben")),
                                               "medications": None})  # fmt: skip
    cards = cards_of(post(client, service_url(), body))
    assert [c["indicator"] for c in cards] == ["info", "info"]
    assert allowed.requests == []
    assert not AuditEvent.objects.filter(action="cds_fhir_read").exists()


def test_without_prefetch_the_data_is_read_from_the_server_with_the_token(client, allowed, caplog):
    caplog.set_level("DEBUG")
    fetched = cards_of(post(client, service_url(), without_prefetch(allowed)))

    assert allowed.paths() == ["/fhir/Patient/1288992", MEDICATIONS_PATH]
    for request in allowed.requests:
        assert request["authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert request["accept"] == "application/fhir+json"
    # The same cards as when the EHR prefetches the same data.
    prefetched = without_prefetch(allowed, prefetch={
        "patient": patient_resource(named("Ben")),
        "medications": searchset(medication_request(*DOXYCYCLINE, mg_doses=(100,))),
    })  # fmt: skip
    assert comparable(fetched) == comparable(cards_of(post(client, service_url(), prefetched)))
    assert [c["indicator"] for c in fetched] == ["warning", "info", "info"]
    assert "tetracycline" in fetched[0]["summary"]
    # Audited with the URL, never the token.
    reads = AuditEvent.objects.filter(action="cds_fhir_read").order_by("id")
    assert [e.detail["url"] for e in reads] == [
        f"{allowed.base}/Patient/1288992", f"{allowed.base}/MedicationRequest?patient=1288992"
        "&status=active",
    ]  # fmt: skip
    assert [e.outcome for e in reads] == ["allowed", "allowed"]
    assert reads[1].patient_id == named("Ben").pk and reads[0].detail["status"] == 200
    hook = AuditEvent.objects.filter(action="cds_hook").order_by("id").first()
    assert hook.detail["data"] == {"patient": "server", "medications": "server"}
    no_token_kept()
    assert ACCESS_TOKEN not in caplog.text


def test_only_the_keys_left_out_are_read(client, allowed):
    body = without_prefetch(allowed, prefetch={"patient": patient_resource(named("Ben"))})
    cards = cards_of(post(client, service_url(), body))
    assert allowed.paths() == [MEDICATIONS_PATH]
    assert any("tetracycline" in c["summary"] for c in cards)


def test_a_null_patient_is_412_and_not_read_again(client, allowed):
    body = without_prefetch(allowed, prefetch={"patient": None})
    issue = outcome_of(post(client, service_url(), body), 412)
    assert issue["expression"] == ["prefetch.patient"]
    assert "null" in issue["diagnostics"] and "no Patient" in issue["diagnostics"]
    assert allowed.requests == []


def test_null_medications_mean_none_and_are_not_read(client, allowed):
    body = without_prefetch(allowed, prefetch={"patient": patient_resource(named("Ben")),
                                               "medications": None})  # fmt: skip
    cards_of(post(client, service_url(), body))
    assert allowed.requests == []


def test_an_unknown_patient_is_read_but_their_medicines_are_not(client, allowed):
    allowed.answer("/fhir/Patient/1288992", patient_resource(None))
    cards = cards_of(post(client, service_url(), without_prefetch(allowed)))
    assert "not enrolled" in cards[0]["summary"]
    assert allowed.paths() == ["/fhir/Patient/1288992"]


def test_the_next_pages_of_a_search_are_read_on_the_same_server(client, allowed):
    page2 = f"{allowed.base}/MedicationRequest?patient=1288992&status=active&_page=2"
    allowed.answer(MEDICATIONS_PATH, searchset(medication_request("617993", "amoxicillin"),
                                               next_url=page2))  # fmt: skip
    allowed.answer(page2.removeprefix(allowed.base.removesuffix("/fhir")),
                   searchset(medication_request(*DOXYCYCLINE)))  # fmt: skip
    cards = cards_of(post(client, service_url(), without_prefetch(allowed)))
    assert len(allowed.requests) == 3
    assert any("tetracycline" in c["summary"] for c in cards)


@pytest.mark.parametrize(
    "evil",
    [
        "https://evil.example.org/fhir/x",
        "{base}/../admin?page=2",
        "{base}/%2e%2e/admin",
        "{base}x/MedicationRequest?page=2",
    ],
)
def test_a_next_page_on_another_server_is_not_read(client, allowed, evil):
    evil = evil.format(base=allowed.base)
    allowed.answer(MEDICATIONS_PATH, searchset(medication_request(*DOXYCYCLINE), next_url=evil))
    body = without_prefetch(allowed, prefetch={"patient": patient_resource(named("Ben"))})
    cards = cards_of(post(client, service_url(), body))
    assert "could not read the EHR's medication list" in cards[0]["summary"]
    assert "next page is not on the EHR's FHIR server" in cards[0]["detail"]
    assert allowed.paths() == [MEDICATIONS_PATH]


def test_a_prefetched_patient_that_is_not_a_resource_is_400(client, allowed):
    body = without_prefetch(allowed, prefetch={"patient": "Patient/1288992"})
    issue = outcome_of(post(client, service_url(), body), 400)
    assert issue["diagnostics"] == "prefetch.patient must be a Patient or null"


# The allow-list -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "server",
    [
        pytest.param("https://fhir.example.org", id="another server"),
        pytest.param("{base}x", id="a longer path that only starts like it"),
        pytest.param("{base}/../other", id="a dot segment"),
        pytest.param("{base}?tenant=1", id="a query"),
    ],
)
def test_a_server_not_allow_listed_is_never_read_and_the_answer_is_412(client, allowed, server):
    body = without_prefetch(allowed, fhirServer=server.format(base=allowed.base))
    issue = outcome_of(post(client, service_url(), body), 412)
    assert "is not allow-listed" in issue["diagnostics"]
    assert issue["expression"] == ["prefetch.patient"] and issue["code"] == "security"
    assert allowed.requests == []
    refused = AuditEvent.objects.get(action="cds_fhir_read")
    assert refused.outcome == "refused" and refused.detail["fhirServer"]


def test_a_path_under_an_allow_listed_server_may_be_read(client, allowed, settings):
    settings.ISOGUARD_CDS_ISSUERS[ISS]["fhir_servers"] = [allowed.base.removesuffix("/fhir") + "/"]
    cards_of(post(client, service_url(), without_prefetch(allowed)))
    assert len(allowed.requests) == 2


def test_no_fhir_servers_configured_reads_nothing(client, demo, ehr):
    issue = outcome_of(post(client, service_url(), without_prefetch(ehr)), 412)
    assert "not allow-listed" in issue["diagnostics"] and ehr.requests == []


def test_a_server_without_fhir_authorization_is_not_read(client, allowed):
    body = without_prefetch(allowed)
    del body["fhirAuthorization"]
    issue = outcome_of(post(client, service_url(), body), 412)
    assert "no fhirServer with fhirAuthorization" in issue["diagnostics"]
    assert allowed.requests == []


def test_fhir_authorization_without_its_fields_is_400_naming_them(client, allowed):
    body = without_prefetch(allowed)
    del body["fhirAuthorization"]["subject"]
    issue = outcome_of(post(client, service_url(), body), 400)
    assert issue["expression"] == ["fhirAuthorization.subject"]


@pytest.mark.parametrize(
    ("servers", "message"),
    [
        ("https://ehr.example.org/fhir", "fhir_servers must be a list"),
        (["http://ehr.example.org/fhir"], "must use https"),
        (["https://ehr.example.org/fhir?x=1"], "query"),
        (["https://user:pw@ehr.example.org/fhir"], "user name"),
        (["ehr.example.org/fhir"], "absolute https URL"),
        (["https://ehr.example.org/a/../fhir"], "path segments"),
        (["https://ehr.example.org/a/%2E%2E/fhir"], "encoded dot"),
        (["https://ehr.example.org:99999/fhir"], "not a URL"),
    ],
)
def test_a_malformed_fhir_servers_setting_is_reported(servers, message):
    key = base.pem(base.KEY)
    with pytest.raises(ConfigError, match="fhir_servers") as raised:
        issuers({ISS: {"keys": [key], "fhir_servers": servers}})
    assert message in str(raised.value)


def test_the_allow_list_is_an_exact_prefix_on_a_path_boundary():
    key = base.pem(base.KEY)
    conf = {
        "keys": [key],
        "fhir_servers": ["https://ehr.example.org/fhir/", "http://localhost:8080"],
    }
    issuer = issuers({ISS: conf})[ISS]
    assert fhir_server_allowed(issuer, "https://ehr.example.org/fhir")
    assert fhir_server_allowed(issuer, "https://ehr.example.org/fhir/tenant-1/")
    assert fhir_server_allowed(issuer, "http://localhost:8080/r4")
    assert not fhir_server_allowed(issuer, "https://ehr.example.org/fhirx")
    assert not fhir_server_allowed(issuer, "https://ehr.example.org.evil.example/fhir")
    assert not fhir_server_allowed(issuer, "http://ehr.example.org/fhir")
    assert not fhir_server_allowed(issuer, "https://ehr.example.org/fhir/../admin")


# A server that answers badly ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "body", "message"),
    [
        pytest.param(401, "", {"resourceType": "OperationOutcome"}, "HTTP 401", id="401"),
        pytest.param(500, "", b"oops", "HTTP 500", id="500"),
        pytest.param(404, "", {"resourceType": "OperationOutcome"}, "HTTP 404", id="404"),
        pytest.param(302, "", b"", "HTTP 302, and redirects are not followed", id="redirect"),
        pytest.param(200, "text/html", b"<html>login</html>", "not FHIR JSON", id="html"),
        pytest.param(200, "", b"{not json", "not JSON", id="garbage"),
        pytest.param(200, "", [1, 2], "not a FHIR resource", id="not a resource"),
        pytest.param(200, "", {"resourceType": "Bundle"}, "Bundle, not a Patient", id="wrong type"),
    ],
)
def test_a_failed_read_of_the_patient_is_412_saying_why(client, allowed, status, kind, body,
                                                       message):  # fmt: skip
    allowed.answer("/fhir/Patient/1288992", body, status, kind)
    issue = outcome_of(post(client, service_url(), without_prefetch(allowed)), 412)
    assert issue["expression"] == ["prefetch.patient"]
    assert "could not read Patient/1288992 (prefetch.patient)" in issue["diagnostics"]
    assert message in issue["diagnostics"]
    assert allowed.paths() == ["/fhir/Patient/1288992"]  # a redirect is not followed
    event = AuditEvent.objects.get(action="cds_fhir_read")
    assert event.outcome == "refused" and message in event.reason
    assert event.detail["status"] == status and event.detail["url"].endswith("/Patient/1288992")
    no_token_kept()


def test_another_patient_from_the_server_is_412(client, allowed):
    allowed.answer("/fhir/Patient/1288992", patient_resource(named("Ben"), fhir_id="999"))
    issue = outcome_of(post(client, service_url(), without_prefetch(allowed)), 412)
    assert "another resource than that Patient" in issue["diagnostics"]


def test_a_slow_server_is_412_after_the_timeout(client, allowed, settings):
    settings.ISOGUARD_CDS_FHIR_TIMEOUT = 0.3
    allowed.delay = 1.5
    started = time.monotonic()
    issue = outcome_of(post(client, service_url(), without_prefetch(allowed)), 412)
    assert time.monotonic() - started < 1.4
    assert issue["code"] == "timeout" and "no answer within 0.3 s" in issue["diagnostics"]


def test_an_answer_over_the_size_cap_is_412(client, allowed, monkeypatch):
    monkeypatch.setattr(fhirserver, "MAX_BYTES", 100)
    issue = outcome_of(post(client, service_url(), without_prefetch(allowed)), 412)
    assert "larger than 100 bytes" in issue["diagnostics"]


def test_an_unreachable_server_is_412(client, allowed, monkeypatch):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    monkeypatch.setattr(
        fhirserver, "client_factory",
        lambda timeout: httpx.Client(transport=httpx.MockTransport(refuse)),
    )  # fmt: skip
    issue = outcome_of(post(client, service_url(), without_prefetch(allowed)), 412)
    assert issue["diagnostics"].endswith(
        "ConnectError; isoguard needs the Patient to find the patient"
    )


def test_a_failed_read_of_the_medicines_is_a_warning_card_not_a_412(client, allowed):
    allowed.answer(MEDICATIONS_PATH, b"oops", 503)
    body = without_prefetch(allowed, prefetch={"patient": patient_resource(named("Ben"))})
    cards = cards_of(post(client, service_url(), body))
    assert [c["indicator"] for c in cards] == ["warning", "info", "info"]
    assert cards[0]["summary"] == (
        "isoguard could not read the EHR's medication list to check interactions"
    )
    assert "HTTP 503" in cards[0]["detail"]


def test_medicines_not_prefetched_and_no_server_are_not_checked(client, demo):
    body = order_sign(medication_request(*ISOTRETINOIN_20, mg_doses=(40, 40)), named("Ben"))
    del body["prefetch"]["medications"]
    del body["fhirServer"]
    cards = cards_of(post(client, service_url(), body))
    assert [c["indicator"] for c in cards] == ["info", "info"]
    hook = AuditEvent.objects.get(action="cds_hook")
    assert hook.detail["data"]["medications"].startswith("unavailable: prefetch.medications was")


# Prefetch tokens ---------------------------------------------------------------------------------


def test_prefetch_tokens_are_filled_from_the_context():
    context = {"patientId": "123", "userId": "Practitioner/dr-7", "encounterId": "e.1"}
    assert render("Patient/{{context.patientId}}", context) == "Patient/123"
    assert render("Encounter/{{ context.encounterId }}", context) == "Encounter/e.1"
    assert render("Practitioner/{{userPractitionerId}}", context) == "Practitioner/dr-7"
    with pytest.raises(Unavailable, match="userPractitionerRoleId"):
        render("PractitionerRole/{{userPractitionerRoleId}}", context)
    with pytest.raises(Unavailable, match="no FHIR id"):
        render("Patient/{{context.patientId}}", {"patientId": "../Practitioner/1"})
    with pytest.raises(Unavailable, match="no FHIR id"):
        render("Patient/{{context.patientId}}", {"patientId": ".."})


def test_a_patient_id_that_is_not_a_fhir_id_is_never_sent(client, allowed):
    body = without_prefetch(allowed)
    body["context"]["patientId"] = "1288992/_history"
    issue = outcome_of(post(client, service_url(), body), 412)
    assert "no FHIR id" in issue["diagnostics"] and allowed.requests == []


@pytest.mark.parametrize("raw", ["0", "-1", "31", "nan", "five"])
def test_a_bad_fhir_timeout_setting_is_refused_naming_it(monkeypatch, raw):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("ISOGUARD_CDS_FHIR_TIMEOUT", raw)
    with pytest.raises(ImproperlyConfigured, match="ISOGUARD_CDS_FHIR_TIMEOUT"):
        env_seconds("ISOGUARD_CDS_FHIR_TIMEOUT", 5.0, 30.0)
    monkeypatch.setenv("ISOGUARD_CDS_FHIR_TIMEOUT", "2.5")
    assert env_seconds("ISOGUARD_CDS_FHIR_TIMEOUT", 5.0, 30.0) == 2.5
