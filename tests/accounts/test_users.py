"""Each role belongs to the right kind of organisation, and passwords are hashed with Argon2."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from isoguard.accounts.models import Organisation, User


@pytest.fixture
def orgs(db):
    return (
        Organisation.objects.create(name="Clinic", kind="clinic", jurisdiction="UK"),
        Organisation.objects.create(name="Pharmacy", kind="pharmacy", jurisdiction="UK"),
    )


@pytest.mark.parametrize(
    ("role", "org_index", "error"),
    [
        ("prescriber", None, "must belong to a clinic"),
        ("prescriber", 1, "must belong to a clinic, not a pharmacy"),
        ("clinic_staff", 1, "must belong to a clinic, not a pharmacy"),
        ("pharmacist", 0, "must belong to a pharmacy, not a clinic"),
        ("pharmacist", None, "must belong to a pharmacy"),
        ("patient", 0, "belongs to no organisation"),
        ("guardian", 1, "belongs to no organisation"),
    ],
)
def test_a_role_in_the_wrong_organisation_is_refused_with_the_field_named(
    orgs, role, org_index, error
):
    user = User(
        username="x", role=role, organisation=None if org_index is None else orgs[org_index]
    )
    with pytest.raises(ValidationError) as caught:
        user.full_clean(exclude=["password"])
    assert error in str(caught.value.message_dict["organisation"])


@pytest.mark.parametrize(
    ("role", "org_index"),
    [
        ("prescriber", 0),
        ("clinic_staff", 0),
        ("pharmacist", 1),
        ("patient", None),
        ("guardian", None),
        ("administrator", None),
    ],
)
def test_a_role_in_the_right_organisation_is_accepted(orgs, role, org_index):
    User(
        username="x", role=role, organisation=None if org_index is None else orgs[org_index]
    ).full_clean(exclude=["password"])


def test_an_unknown_role_is_refused(orgs):
    with pytest.raises(ValidationError) as caught:
        User(username="x", role="surgeon").full_clean(exclude=["password"])
    assert "role" in caught.value.message_dict


def test_production_settings_hash_passwords_with_argon2():
    from isoguard import settings as production

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_argon2_hashes_and_checks_a_password(settings):
    from django.contrib.auth.hashers import check_password, make_password

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    hashed = make_password("correct horse", hasher="argon2")
    assert hashed.startswith("argon2$")
    assert check_password("correct horse", hashed)
    assert not check_password("wrong horse", hashed)
