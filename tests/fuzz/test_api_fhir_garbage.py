"""Hostile input to the API (/api/v1/) and the FHIR endpoints (/fhir/R4/), as systems send it.

Two ways in, each with a real API token of the role the endpoint serves, so requests get past
the login and reach the checks behind it:

- schemathesis again, from the two OpenAPI descriptions, now with negative data too (bodies,
  queries and ids the description forbids) and, through its hooks, a few of each request's values
  replaced by hostile ones (tests/fuzz/hostile.py);
- hand-written hypothesis bodies for what writes: a screening, a symptom report, a dispense
  authorisation and a dispense, and FHIR transaction Bundles made from a real `$everything` export
  (as tests/interop/test_fhir.py's `transaction_of` does), then damaged a little: a value made
  hostile, a key dropped, a type changed, an entry repeated. And bodies that are not JSON at all,
  or JSON nested too deep to read; those go to the CDS Hooks services too, with a signed token.

After each request: no 5xx; a refusal (400/422) names what it refuses (the API's `error.field`, or
a message starting with the field's name; FHIR: the issue's `expression`, or diagnostics starting
with the element); and every row written passes full_clean() with no NUL (the sweep). Each request
runs in a savepoint that is rolled back, so each starts from the same demo clinic.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import zoneinfo
from contextlib import contextmanager

import pytest
import schemathesis
import time_machine
from django.conf import settings as django_settings
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from schemathesis import DataGenerationMethod

from tests.conftest import TODAY
from tests.fuzz.hostile import HUGE, MAY_CHANGE_ON_REFUSAL, Sweep, hostile_values

schemathesis.experimental.OPEN_API_3_1.enable()

EXAMPLES = int(os.environ.get("ISOGUARD_FUZZ_EXAMPLES", "12"))
SETTINGS = settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink), report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
# A field or element path (text, Bundle.entry[2].resource.code); empty for a search parameter
# sent with no name ("=x").
ELEMENT = r"([A-Za-z_][\w.\[\]-]*)?"
# API refusals that are not about a field: the body as a whole, or the record's state (the same
# request is accepted once the Medication Guide is acknowledged, or refused once it is filled).
NOT_ABOUT_A_FIELD = (
    "Cannot parse request body",
    "Not authorised: ",
    "This prescription has already been dispensed.",
)


def say(text: str) -> None:
    """A note in hypothesis' report of a failing example (outside an example: nothing)."""
    if currently_in_test_context():
        note(text)


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture
def seeded(db):
    """The demo clinic on TODAY (time stands still), a token per role, and the ids the API needs;
    another clinic's prescriber imports the FHIR Bundles."""
    from isoguard.accounts.models import Organisation, User
    from isoguard.accounts.tokens import token_create
    from isoguard.demo import create_demo
    from isoguard.patients.models import Patient

    zone = zoneinfo.ZoneInfo(django_settings.TIME_ZONE)
    with time_machine.travel(dt.datetime.combine(TODAY, dt.time(9, 30), tzinfo=zone)):
        create_demo(TODAY)
        elsewhere = Organisation.objects.create(
            name="Elsewhere Dermatology", kind="clinic", jurisdiction="US"
        )
        importer = User(username="importer", role="prescriber", organisation=elsewhere)
        importer.set_unusable_password()
        importer.save()

        def token(username: str) -> str:
            return token_create(User.objects.get(username=username), "fuzz")[1]

        alice = Patient.objects.get(given_name="Alice")
        fatima = Patient.objects.get(given_name="Fatima")
        prescriber = token("dr.rivera")
        everything = Client().get(
            f"/fhir/R4/Patient/patient-{alice.pk}/$everything",
            HTTP_AUTHORIZATION=f"Bearer {prescriber}",
        )
        assert everything.status_code == 200
        yield {
            "prescriber": prescriber,
            "patient": token("alice"),
            "pharmacist": token("pharm.chen"),
            "importer": token("importer"),
            "alice": alice.pk,
            "dev": Patient.objects.get(given_name="Dev").pk,
            "fatima_rx": fatima.courses.get().prescriptions.order_by("-written_on")[0].pk,
            "bundle": transaction_of(everything.json()),
        }


def transaction_of(bundle: dict) -> dict:
    """The $everything searchset as a transaction Bundle, as another system would send it (as in
    tests/interop/test_fhir.py)."""
    entries = [
        {"fullUrl": e["fullUrl"], "resource": e["resource"],
         "request": {"method": "POST", "url": e["resource"]["resourceType"]}}
        for e in bundle["entry"]
    ]  # fmt: skip
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


# --- what every answer must be ------------------------------------------------------------------


def check_api_answer(response, what: str) -> None:
    """No 5xx; a refusal of the input names the field (or says it is the whole request)."""
    assert response.status_code < 500, f"{what}: {response.status_code}"
    if response.status_code in (400, 422):
        error = response.json()["error"]
        message = error["message"]
        named = error.get("field") or _starts_with_element(message)
        assert named or message.startswith(NOT_ABOUT_A_FIELD), (
            f"{what}: a {response.status_code} that names no field: {error}"
        )


def check_fhir_answer(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"
    if response.status_code >= 400:
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome", outcome
        if response.status_code in (400, 422):
            issue = outcome["issue"][0]
            named = issue.get("expression") or _starts_with_element(issue.get("diagnostics", ""))
            assert named, f"{what}: a {response.status_code} that names no element: {issue}"


def _starts_with_element(message: str) -> bool:
    return re.match(rf"{ELEMENT}: ", message) is not None


def after(sweep: Sweep, response) -> None:
    """The sweep; and a refused request wrote nothing but the audit trail."""
    written = sweep.check() - MAY_CHANGE_ON_REFUSAL
    if response.status_code >= 400:
        assert not written, f"a {response.status_code} wrote {sorted(written)}"


# --- schemathesis, negative data and hostile values ---------------------------------------------


def _wsgi_schema(path: str):
    # As Django's test client does: the request must not close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(path, get_wsgi_application())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(seeded):
    yield from _wsgi_schema("/api/v1/openapi.json")


@pytest.fixture
def fhir_schema(seeded):
    yield from _wsgi_schema("/fhir/R4/openapi.json")


BOTH = DataGenerationMethod.all()
api = schemathesis.from_pytest_fixture("api_schema", data_generation_methods=BOTH)
fhir = schemathesis.from_pytest_fixture("fhir_schema", data_generation_methods=BOTH)


def _hostile_leaves(value):
    """A strategy: `value` with now and then one of its strings or numbers made hostile."""
    return sparse_damage(value, max_changes=2)


for _schema in (api, fhir):
    _schema.hook("flatmap_body")(lambda context, body: _hostile_leaves(body))
    _schema.hook("flatmap_query")(lambda context, query: _hostile_leaves(query))


def _token_for(path: str, seeded: dict) -> str:
    """The role the operation serves: a pharmacist for the prescriptions, a patient for the
    symptom reports, the prescriber otherwise."""
    if "/prescriptions/" in path:
        return seeded["pharmacist"]
    if path.endswith("symptom-reports"):
        return seeded["patient"]
    return seeded["prescriber"]


def _on_real_ids(case, seeded: dict):
    """The same request for a patient or prescription that exists and the token may see."""
    real = case.partial_deepcopy()
    params = dict(real.path_parameters or {})
    for name in params:
        if name == "patient_id":
            params[name] = seeded["alice"]
        elif name == "prescription_id":
            params[name] = seeded["fatima_rx"]
        elif name in ("id", "resource_id"):
            return None
    if not params:
        return None
    real.path_parameters = params
    return real


def _call(case, seeded: dict, check) -> None:
    # The token authenticates; the `sessionid` cookie schemathesis makes from the session scheme
    # is sent as it is (a NUL in it was a 500 on PostgreSQL, fixed by security/sessions.py).
    case.headers = {
        **(case.headers or {}),
        "Authorization": f"Bearer {_token_for(case.operation.path, seeded)}",
    }
    sweep = Sweep()
    with rolled_back():
        sweep.begin()
        response = case.call()
        sent = f"{case.method} {case.formatted_path} query={case.query!r} body={case.body!r}"
        check(_Answer(response), sent[:2000])
        after(sweep, _Answer(response))


class _Answer:
    """A requests-like response (schemathesis' WSGI one) as the checks read it."""

    def __init__(self, response) -> None:
        self.status_code = response.status_code
        self._response = response

    def json(self):
        return self._response.json


@api.parametrize()
@SETTINGS
def test_api_schema_with_hostile_values(case, seeded):
    _call(case, seeded, check_api_answer)
    real = _on_real_ids(case, seeded)
    if real is not None:
        _call(real, seeded, check_api_answer)


@fhir.parametrize()
@SETTINGS
def test_fhir_schema_with_hostile_values(case, seeded):
    if case.operation.method.upper() == "POST":
        case.headers = {**(case.headers or {}), "Content-Type": "application/fhir+json"}
    _call(case, seeded, check_fhir_answer)


# --- damage: a few changes to a valid body ------------------------------------------------------


def _paths(value, prefix=()):
    """Every place in a JSON value: (path, value) for each dict item and list element."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key), item
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index), item
            yield from _paths(item, (*prefix, index))


def _hostile_like(value) -> st.SearchStrategy:
    """Something in the place of `value`: hostile of its kind, or of another kind."""
    other_kinds = st.one_of(
        st.none(), st.booleans(), st.just([]), st.just({}), st.just(HUGE),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.lists(hostile_values(), max_size=3), st.dictionaries(hostile_values(), hostile_values(),
                                                                max_size=2),
    )  # fmt: skip
    if isinstance(value, str):
        return st.one_of(hostile_values(), hostile_values(), other_kinds)
    if isinstance(value, bool | int | float):
        numbers = st.sampled_from([0, -1, 10**30, -(10**30), 1.5, 1e308, -1e-308, True, "1"])
        return st.one_of(numbers, other_kinds)
    return other_kinds


@st.composite
def sparse_damage(draw, value, max_changes: int = 3):
    """`value` with 0 to `max_changes` changes: a value replaced, a key dropped, an item
    repeated or dropped, a key added."""
    if value is None or not isinstance(value, dict | list):
        return draw(st.one_of(st.just(value), _hostile_like(value))) if value is not None else None
    damaged = copy.deepcopy(value)
    places = list(_paths(damaged))
    for _ in range(draw(st.integers(0, max_changes))):
        if not places:
            break
        path, old = places[draw(st.integers(0, len(places) - 1))]
        parent = damaged
        try:
            for step in path[:-1]:
                parent = parent[step]
            last = path[-1]
            parent[last]
        except (KeyError, IndexError, TypeError):
            continue
        how = draw(st.sampled_from(["replace", "replace", "replace", "drop", "repeat", "add"]))
        if how == "replace":
            parent[last] = draw(_hostile_like(old))
        elif how == "drop":
            del parent[last]
        elif how == "repeat" and isinstance(parent, list):
            parent.insert(last, copy.deepcopy(parent[last]))
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "id", "_x", ""]) | hostile_values())] = draw(
                _hostile_like("")
            )
    return damaged


def _set(value, path, new):
    """A copy of `value` with the place at `path` set to `new`."""
    changed = copy.deepcopy(value)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return changed


# The values tried at each place of a valid body, one place at a time (hypothesis tries mixes).
SHARP_JSON = ["a\x00b", HUGE, "9" * 30, "²", "9999-12-31", 10**30, -1, 1.5, None, [], {}]


def sharp_bodies(body: dict, values=SHARP_JSON):
    """`body` with one place at a time set to each of `values`."""
    for path, _ in _paths(body):
        for value in values:
            yield _set(body, path, value)


RAW_BODIES = [
    b"",
    b"not json",
    b"\xff\xfe\x00{",
    b"null",
    b"[]",
    b'"a string"',
    b"1e999",
    b'{"a": 1, "a": 2}',
    b"[" * 50_000 + b"]" * 50_000,  # deeper than json.loads can go
    b'{"x":' * 50_000 + b"1" + b"}" * 50_000,
    json.dumps({"text": "x" * 2_000_000}).encode(),  # over the 1 MB request limit
]


# --- the API's writes ---------------------------------------------------------------------------

SCREENING = {
    "diagnosis": "severe_recalcitrant_nodular_acne",
    "failed_treatments": ["topical_benzoyl_peroxide", "oral_doxycycline"],
    "can_become_pregnant": False,
    "pregnant": False,
    "breastfeeding": False,
    "allergies": ["penicillin"],
    "medicines": ["minocycline 100 mg", {"name": "ibuprofen", "rxnorm": "5640"}],
    "history": ["depression"],
    "previous_course_last_dose": None,
}
REPORT = {"text": "My lips are dry and cracking.", "symptoms": ["dry_lips"]}
DISPENSE = {
    "quantity": 60,
    "days_supply": 30,
    "rma_number": "RMA-123",
    "external_do_not_dispense_after": TODAY.isoformat(),
}
# (path, token role, valid body or None, which ids)
API_WRITES = {
    "screening": ("/api/v1/patients/{dev}/screenings", "prescriber", SCREENING),
    "symptom report": ("/api/v1/patients/{alice}/symptom-reports", "patient", REPORT),
    "dispense authorisation": (
        "/api/v1/prescriptions/{fatima_rx}/dispense-authorisations",
        "pharmacist",
        None,
    ),
    "dispense": ("/api/v1/prescriptions/{fatima_rx}/dispenses", "pharmacist", DISPENSE),
}
HOSTILE_IDS = ["0", "-1", "99999999999999999999", "1e3", "²", "%00", "..%2F..%2Fme", "9" * 5000]


def _api_post(seeded: dict, name: str, body: bytes, *, path_id: str | None, sweep: Sweep):
    path, role, _ = API_WRITES[name]
    url = path.format(**seeded)
    if path_id is not None:  # the same endpoint with a hostile id
        url = "/".join(path_id if part.startswith("{") else part for part in path.split("/"))
    with rolled_back():
        response = Client().post(
            url, body, content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {seeded[role]}",
        )  # fmt: skip
        say(f"{url} -> {response.status_code} {response.content[:300]!r}")
        check_api_answer(response, f"POST {url}")
        after(sweep, response)
    return response


@pytest.mark.parametrize("name", list(API_WRITES))
def test_api_writes_with_damaged_bodies(name, seeded):
    """The valid body first (it must be accepted), then damaged bodies, raw ones, hostile ids."""
    _, _, body = API_WRITES[name]
    sweep = Sweep()
    sweep.begin()  # each request is rolled back: the rows before each are these
    valid = json.dumps(body).encode() if body is not None else b""
    if name != "dispense":  # the dispense needs the Medication Guide first: refused, with reasons
        assert _api_post(seeded, name, valid, path_id=None, sweep=sweep).status_code == 201
    for raw in RAW_BODIES:
        _api_post(seeded, name, raw, path_id=None, sweep=sweep)
    for sharp in sharp_bodies(body or {}):
        _api_post(seeded, name, json.dumps(sharp).encode(), path_id=None, sweep=sweep)
    for path_id in HOSTILE_IDS:
        _api_post(seeded, name, valid, path_id=path_id, sweep=sweep)

    @settings(SETTINGS, max_examples=EXAMPLES * 3)
    @given(st.data())
    def damaged(data):
        value = data.draw(sparse_damage(body if body is not None else {}), label="body")
        _api_post(seeded, name, json.dumps(value).encode(), path_id=None, sweep=sweep)

    damaged()


# --- FHIR: a real export, imported as another clinic's transaction, damaged a little -------------


def _fhir_post(seeded: dict, body: bytes, sweep: Sweep):
    with rolled_back():
        response = Client().post(
            "/fhir/R4/", body, content_type="application/fhir+json",
            HTTP_AUTHORIZATION=f"Bearer {seeded['importer']}",
        )  # fmt: skip
        say(f"-> {response.status_code} {response.content[:400]!r}")
        check_fhir_answer(response, "POST /fhir/R4/")
        after(sweep, response)
    return response


def test_fhir_transactions_with_damaged_bundles(seeded):
    sweep = Sweep()
    sweep.begin()  # each request is rolled back: the rows before each are these
    bundle = seeded["bundle"]
    assert _fhir_post(seeded, json.dumps(bundle).encode(), sweep).status_code == 200
    for raw in RAW_BODIES:
        _fhir_post(seeded, raw, sweep)
    # The first resource of some types (of every type in a deep run), each of its places at a
    # time: a text too long for its column, a number too big. (A NUL anywhere is refused first.)
    first: dict[str, int] = {}
    for index, entry in enumerate(bundle["entry"]):
        kind = entry["resource"]["resourceType"]
        if EXAMPLES >= 50 or kind in ("Patient", "Condition", "Consent", "Observation"):
            first.setdefault(kind, index)
    for index in first.values():
        resource = bundle["entry"][index]["resource"]
        for path, value in _paths(resource):
            if isinstance(value, str | int) and not isinstance(value, bool):
                sharp = _set(resource, path, HUGE if isinstance(value, str) else 10**30)
                damaged = _set(bundle, ("entry", index, "resource"), sharp)
                _fhir_post(seeded, json.dumps(damaged).encode(), sweep)

    @settings(SETTINGS, max_examples=EXAMPLES * 5)
    @given(st.data())
    def damaged(data):
        value = data.draw(sparse_damage(bundle), label="bundle")
        _fhir_post(seeded, json.dumps(value).encode(), sweep)

    damaged()


# --- CDS Hooks: what an EHR with a valid token might send ----------------------------------------


def test_cds_hooks_with_raw_and_damaged_bodies(seeded, settings):
    """A signed EHR call whose body is not JSON, too deep, or the wrong shape: 4xx, never 5xx."""
    from django.urls import reverse

    from isoguard.accounts.models import Organisation
    from isoguard.interop.cdshooks.services import SERVICES
    from tests.interop.test_cdshooks import ISS, KEY, MRN, pem, token

    clinic = Organisation.objects.get(name="Riverside Dermatology")
    settings.ISOGUARD_CDS_AUDIENCE = ""
    settings.ISOGUARD_CDS_ISSUERS = {
        ISS: {"keys": [pem(KEY)], "algorithms": ["ES384"], "clinic_id": clinic.pk,
              "identifier_system": MRN},
    }  # fmt: skip
    sweep = Sweep()
    urls = [reverse(f"cdshooks:{kind}", args=[name]) for name in SERVICES
            for kind in ("service", "feedback")]  # fmt: skip
    bodies = [*RAW_BODIES, json.dumps({"hook": "order-sign", "hookInstance": HUGE}).encode(),
              json.dumps({"hook": "order-sign", "context": [1, 2]}).encode()]  # fmt: skip
    for url in urls:
        for body in bodies:
            with rolled_back():
                sweep.begin()
                response = Client().post(url, body, content_type="application/json",
                                         HTTP_AUTHORIZATION=f"Bearer {token(url)}")  # fmt: skip
                assert response.status_code < 500, (url, body[:40], response.status_code)
                if response.status_code >= 400:
                    assert response.json()["resourceType"] == "OperationOutcome"
                after(sweep, response)
