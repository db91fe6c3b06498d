"""API tokens for systems: a token acts as its user on /fhir/R4/ and /api/v1/, under the same
access rules and audit; a bad token is a 401, audited, and the secret is never stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from isoguard.accounts.models import ApiToken
from isoguard.accounts.tokens import token_create
from isoguard.audit.models import AuditEvent
from isoguard.patients.models import Patient

BASE = "/fhir/R4/"
BUNDLE = {"resourceType": "Bundle", "type": "transaction", "entry": [
    {"resource": {"resourceType": "Patient", "name": [{"family": "Token", "given": ["Tess"]}],
                  "birthDate": "2001-02-03"}}]}  # fmt: skip


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def ehr(world):
    """A system of Riverside: a clinic-staff user with a token."""
    _, token = token_create(world.staff, "EHR at Riverside")
    return token


def test_a_token_reads_and_searches_fhir_as_its_user_and_the_audit_names_that_user(world, ehr):
    client = Client()
    response = client.get(f"{BASE}Patient/patient-{world.alice.pk}", **bearer(ehr))
    assert response.status_code == 200, response.content
    assert response.json()["id"] == f"patient-{world.alice.pk}"
    response = client.get(
        f"{BASE}MedicationRequest", {"patient": f"patient-{world.alice.pk}"}, **bearer(ehr)
    )
    assert response.status_code == 200
    assert response.json()["total"] == 1
    rx_id = response.json()["entry"][0]["resource"]["id"]
    assert client.get(f"{BASE}MedicationRequest/{rx_id}", **bearer(ehr)).status_code == 200
    actions = set(
        AuditEvent.objects.filter(
            actor=world.staff, patient_id=world.alice.pk, outcome="allowed"
        ).values_list("action", flat=True)
    )
    assert {"fhir_read", "fhir_search"} <= actions
    assert ApiToken.objects.get().last_used_at is not None
    # The rules are the user's: Hillside's patient stays out of reach, and it is audited.
    response = client.get(f"{BASE}Patient/patient-{world.hana.pk}", **bearer(ehr))
    assert response.status_code == 403
    assert AuditEvent.objects.filter(
        actor=world.staff, patient_id=world.hana.pk, outcome="refused"
    ).exists()


def test_a_token_post_needs_no_csrf_token_but_a_session_post_still_does(world, ehr):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        BASE, json.dumps(BUNDLE), content_type="application/fhir+json", **bearer(ehr)
    )
    assert response.status_code == 200, response.content
    imported = Patient.objects.get(family_name="Token")
    assert imported.clinic == world.clinic
    assert AuditEvent.objects.filter(
        action="fhir_import", actor=world.staff, patient_id=imported.pk
    ).exists()
    session = Client(enforce_csrf_checks=True)
    session.force_login(world.staff)
    response = session.post(BASE, json.dumps(BUNDLE), content_type="application/fhir+json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["issue"][0]["diagnostics"]
    body = {"text": "my lips are dry", "symptoms": []}
    url = f"/api/v1/patients/{world.alice.pk}/symptom-reports"
    response = session.post(url, body, content_type="application/json")
    assert response.status_code == 403
    response = client.post(url, body, content_type="application/json", **bearer(ehr))
    assert response.status_code == 201, response.content


def test_a_token_works_on_the_json_api(world, ehr):
    client = Client()
    me = client.get("/api/v1/me", **bearer(ehr))
    assert me.status_code == 200
    assert me.json() == {"username": "staff", "role": "clinic_staff", "organisation": "Riverside"}
    names = [p["given_name"] for p in client.get("/api/v1/patients", **bearer(ehr)).json()]
    assert sorted(names) == ["Alice", "Bob", "Chloe"]
    response = client.get(f"/api/v1/patients/{world.hana.pk}", **bearer(ehr))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_a_pharmacists_token_sees_only_what_a_pharmacist_may(world):
    _, token = token_create(world.pharmacist, "Main Street dispensing system")
    client = Client()
    patient = f"patient-{world.alice.pk}"
    response = client.get(f"{BASE}MedicationRequest", {"patient": patient}, **bearer(token))
    assert response.status_code == 200 and response.json()["total"] == 1
    response = client.get(f"{BASE}Observation", {"patient": patient}, **bearer(token))
    assert response.status_code == 403
    assert "pharmacist" in response.json()["issue"][0]["diagnostics"]
    response = client.get(f"{BASE}Patient/patient-{world.bob.pk}", **bearer(token))
    assert response.status_code == 403
    response = client.post(
        BASE, json.dumps(BUNDLE), content_type="application/fhir+json", **bearer(token)
    )
    assert response.status_code == 403
    names = [p["given_name"] for p in client.get("/api/v1/patients", **bearer(token)).json()]
    assert names == ["Alice"]
    refused = AuditEvent.objects.filter(actor=world.pharmacist, outcome="refused")
    assert refused.filter(action="fhir_search").exists()
    assert refused.filter(action="fhir_import").exists()


def test_only_the_hash_of_the_secret_is_stored(world):
    token, raw = token_create(world.staff, "lab feed")
    scheme, prefix, secret = raw.split("_", 2)
    assert scheme == "isoguard" and prefix == token.prefix and len(secret) >= 40
    token.refresh_from_db()
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = json.dumps(
        list(ApiToken.objects.values()) + list(AuditEvent.objects.values()), default=str
    )
    assert secret not in stored
    assert AuditEvent.objects.filter(action="token_create", object_id=str(token.pk)).exists()


def _refused(response, message: str) -> None:
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith('Bearer realm="isoguard"')
    body = response.json()
    if body.get("resourceType") == "OperationOutcome":
        assert body["issue"][0]["code"] == "login"
        assert message in body["issue"][0]["diagnostics"]
    else:
        assert body["error"]["code"] == "invalid_token"
        assert message in body["error"]["message"]


@pytest.mark.parametrize("what", ["unknown", "wrong secret", "malformed", "revoked", "expired",
                                  "inactive user"])  # fmt: skip
def test_a_bad_token_is_a_401_and_audited_without_the_secret(world, what):
    token, raw = token_create(world.prescriber, "EHR")
    message = {
        "unknown": "Unknown API token",
        "wrong secret": "Unknown API token",
        "malformed": "Unknown API token",
        "revoked": "revoked",
        "expired": "expired",
        "inactive user": "inactive",
    }[what]
    if what == "unknown":
        raw = "isoguard_0badc0de_" + "x" * 43
    elif what == "wrong secret":
        raw = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    elif what == "malformed":
        raw = "not-a-token"
    elif what == "revoked":
        call_command("token", "revoke", token.prefix, stdout=StringIO())
    elif what == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(1))
    else:
        world.prescriber.is_active = False
        world.prescriber.save()
    client = Client()
    for url in (f"{BASE}Patient/patient-{world.alice.pk}", "/api/v1/me", f"{BASE}metadata"):
        _refused(client.get(url, **bearer(raw)), message)
    _refused(
        client.post(BASE, json.dumps(BUNDLE), content_type="application/fhir+json", **bearer(raw)),
        message,
    )
    refused = AuditEvent.objects.filter(action="token_auth", outcome="refused")
    assert refused.count() == 4
    assert refused.filter(actor=None).count() == 4
    if what not in ("unknown", "malformed"):
        assert set(refused.values_list("object_id", flat=True)) == {token.prefix}
        assert all(e.detail == {"user": "prescriber"} for e in refused)
    secret = raw.split("_", 2)[-1]
    assert secret not in json.dumps(list(AuditEvent.objects.values()), default=str)
    assert not AuditEvent.objects.filter(actor=world.prescriber).exists()
    assert not Patient.objects.filter(family_name="Token").exists()


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "bearer two words", "BEARER x"])
def test_an_empty_or_garbled_bearer_header_is_a_refused_token(world, header):
    for url in (f"{BASE}Patient/patient-{world.alice.pk}", "/api/v1/me"):
        _refused(Client().get(url, HTTP_AUTHORIZATION=header), "Unknown API token")
    assert AuditEvent.objects.filter(action="token_auth", outcome="refused").count() == 2


def test_a_refused_token_on_a_path_with_a_nul_is_still_a_401_and_audited(db):
    """PostgreSQL text holds no NUL: the audit keeps the path without it."""
    raw = "isoguard_0badc0de_" + "x" * 43
    for url in (f"{BASE}Patient/a%00b", "/api/v1/patients/a%00b"):
        _refused(Client().get(url, **bearer(raw)), "Unknown API token")
    paths = set(AuditEvent.objects.filter(action="token_auth").values_list("path", flat=True))
    assert paths == {f"{BASE}Patient/ab", "/api/v1/patients/ab"}


def test_no_credentials_is_still_a_401_asking_for_a_token_or_a_login(world):
    response = Client().get(f"{BASE}Patient/patient-{world.alice.pk}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="isoguard"'
    assert "Bearer" in response.json()["issue"][0]["diagnostics"]
    response = Client().get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_capability_statement_describes_the_token(db):
    statement = Client().get(f"{BASE}metadata").json()
    [rest] = statement["rest"]
    texts = [service["text"] for service in rest["security"]["service"]]
    assert any("Bearer" in text for text in texts)
    assert "isoguard token create" in rest["security"]["description"]


# --- isoguard token ------------------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_token_create_prints_the_token_once_and_list_and_revoke_manage_it(world):
    out, err = run("create", "--user", "staff", "--name", "EHR feed", "--days", "30")
    raw = out.strip()
    assert raw.startswith("isoguard_") and "not shown again" in err
    token = ApiToken.objects.get()
    assert token.user == world.staff and token.name == "EHR feed"
    remaining = token.expires_at - timezone.now()
    assert dt.timedelta(days=29) < remaining <= dt.timedelta(days=30)
    assert Client().get("/api/v1/me", **bearer(raw)).status_code == 200
    listing, _ = run("list")
    assert token.prefix in listing and "active" in listing and "EHR feed" in listing
    assert raw.split("_", 2)[-1] not in listing
    out, _ = run("revoke", token.prefix)
    assert "revoked" in out
    assert Client().get("/api/v1/me", **bearer(raw)).status_code == 401
    listing, _ = run("list")
    assert "revoked" in listing
    assert AuditEvent.objects.filter(action="token_revoke", object_id=str(token.pk)).exists()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("create", "--user", "nobody", "--name", "x"), "--user"),
        (("create", "--user", "staff", "--name", "  "), "--name"),
        (("create", "--user", "staff", "--name", "x", "--days", "soon"), "--days"),
        (("create", "--user", "staff", "--name", "x", "--days", "0"), "--days"),
        (("revoke", "deadbeef"), "PREFIX"),
        (("revoke", "not a prefix"), "PREFIX"),
    ],
)
def test_token_errors_name_the_field(world, args, field):
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert str(caught.value).startswith(f"{field}:")
    assert not ApiToken.objects.exists()


def test_revoking_twice_says_so(world):
    token, _ = token_create(world.staff, "x")
    run("revoke", token.prefix)
    with pytest.raises(CommandError, match="already revoked"):
        run("revoke", token.prefix)


@pytest.mark.parametrize("who", ["staff", "admin"], ids=["with an organisation", "without one"])
def test_the_token_read_loads_what_the_orm_would_and_the_organisation_without_a_query(
    world, who, django_assert_num_queries
):
    """Every request with a token starts with one compiled read of the token, its user and the
    user's organisation (tokens._token_read): the same values the ORM's select_related gives."""
    from isoguard.accounts.tokens import _token_read
    from isoguard.operations.prepared import attnames

    def row(obj):  # every column's value, as the instance holds it
        return {name: getattr(obj, name) for name in attnames(type(obj))}

    user = getattr(world, who)
    token, _ = token_create(user, "EHR")
    ApiToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() + dt.timedelta(days=3), last_used_at=timezone.now()
    )
    orm = ApiToken.objects.select_related("user", "user__organisation").get(pk=token.pk)
    with django_assert_num_queries(1):
        read = _token_read(token.prefix)
        assert read is not None
        assert row(read) == row(orm) and read.expires_at is not None
        assert read.user.pk == user.pk and row(read.user) == row(orm.user)
        assert read.user.organisation == orm.user.organisation
        if orm.user.organisation is not None:
            assert row(read.user.organisation) == row(orm.user.organisation)
    assert read.user.organisation_id == user.organisation_id
    assert (read.user.organisation is None) == (who == "admin")
    assert _token_read("0badc0de") is None
