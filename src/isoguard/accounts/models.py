"""Organisations (clinics, pharmacies) and the people who use isoguard, each with one role."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models

from isoguard.choices import choices, one_of
from isoguard.core.vocabulary import Jurisdiction, Role


class Organisation(models.Model):
    class Kind(models.TextChoices):
        CLINIC = "clinic", "clinic"
        PHARMACY = "pharmacy", "pharmacy"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    jurisdiction = models.CharField(max_length=2, choices=choices(Jurisdiction))
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)
    external = models.BooleanField(
        default=False,
        help_text="known only from an imported history (FHIR): nobody of it logs in, and no "
        "prescription may be presented to it",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            one_of("kind", ["clinic", "pharmacy"], name="organisation_kind_valid"),
            one_of("jurisdiction", Jurisdiction, name="organisation_jurisdiction_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


# Which kind of organisation each role belongs to; patients and guardians belong to none.
ROLE_ORGANISATION_KIND: dict[str, str | None] = {
    Role.PRESCRIBER: Organisation.Kind.CLINIC,
    Role.CLINIC_STAFF: Organisation.Kind.CLINIC,
    Role.PHARMACIST: Organisation.Kind.PHARMACY,
    Role.PATIENT: None,
    Role.GUARDIAN: None,
    Role.ADMINISTRATOR: None,
}


class IsoguardUserManager(UserManager["User"]):
    def create_superuser(self, username, email=None, password=None, **extra_fields):  # type: ignore[no-untyped-def]
        # `isoguard createsuperuser` makes an administrator: the role that manages accounts.
        extra_fields.setdefault("role", Role.ADMINISTRATOR)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person who logs in. The role decides what they may see; see `isoguard.patients.access`."""

    objects = IsoguardUserManager()

    role = models.CharField(max_length=20, choices=choices(Role))
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    phone = models.CharField(max_length=40, blank=True)
    professional_id = models.CharField(
        max_length=40, blank=True, help_text="NPI, GMC or registration number, for prescribers"
    )
    # Moved on each time a confirmed two-factor device of the user is added or removed
    # (isoguard.security.two_factor): a session keeps whether the user has a device under this
    # number, and decides again when it differs, so a change reaches every session of the user.
    two_factor_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        constraints = [
            one_of("role", Role, name="user_role_valid"),
            # Clinic and pharmacy roles always have their organisation (clean() checks its kind).
            models.CheckConstraint(
                condition=~models.Q(
                    role__in=[Role.PRESCRIBER, Role.CLINIC_STAFF, Role.PHARMACIST],
                    organisation__isnull=True,
                ),
                name="user_staff_role_has_organisation",
            ),
        ]

    def clean(self) -> None:
        super().clean()
        expected = ROLE_ORGANISATION_KIND.get(self.role)
        if (
            expected is None
            and self.organisation_id is not None
            and self.role != Role.ADMINISTRATOR
        ):
            raise ValidationError({"organisation": f"A {self.role} belongs to no organisation."})
        if self.organisation is not None and self.organisation.external and self.is_active:
            raise ValidationError(
                {"organisation": "An external organisation (known only from an imported "
                 "history) has no active members."}
            )  # fmt: skip
        if expected is not None:
            if self.organisation is None:
                raise ValidationError(
                    {"organisation": f"A {self.role} must belong to a {expected}."}
                )
            if self.organisation.kind != expected:
                raise ValidationError(
                    {
                        "organisation": f"A {self.role} must belong to a {expected}, not a "
                        f"{self.organisation.kind}."
                    }
                )

    @property
    def is_clinic_member(self) -> bool:
        return self.role in (Role.PRESCRIBER, Role.CLINIC_STAFF)

    @property
    def display_role(self) -> str:
        return Role(self.role).value.replace("_", " ")


class ApiToken(models.Model):
    """A system's credential (an EHR integration, a lab feed) for /fhir/R4/ and /api/v1/.

    The system acts as `user`, so every access rule and the audit trail apply to it unchanged.
    Only the SHA-256 of the secret is stored; `prefix` names the token and is not secret
    (`isoguard_<prefix>_<secret>`, see `isoguard.accounts.tokens`).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="what uses it, e.g. 'EHR at Riverside'")
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the secret")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name}, {self.user.get_username()})"

    def state(self, now: dt.datetime) -> str:
        """`active`, `revoked` or `expired` at `now`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class TokenFailureWindow(models.Model):
    """Refused API tokens from one client address in its current window: the token throttle
    (`isoguard.security.token_throttle`). A row per address, counted by a single UPDATE, so every
    process and app server shares the count."""

    address = models.CharField(max_length=45, unique=True, help_text="'' when not known")
    window_start = models.DateTimeField(help_text="the first refusal of the window")
    failures = models.PositiveIntegerField(default=0)
    throttle_audited = models.BooleanField(
        default=False, help_text="the window's token_throttled audit event is written"
    )

    def __str__(self) -> str:
        return f"{self.address or '?'}: {self.failures} refused tokens since {self.window_start}"
