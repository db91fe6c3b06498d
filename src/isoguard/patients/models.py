"""Patients and what the clinic knows about them: weight, allergies, medicines, diagnoses."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from isoguard.choices import choices, one_of
from isoguard.core.vocabulary import Jurisdiction


class Patient(models.Model):
    """A person treated by one clinic. Their own login, if they have one, is `user`."""

    class AdministrativeGender(models.TextChoices):
        # FHIR Patient.gender; administrative only. Whether the patient can become pregnant is a
        # separate clinical assessment (PregnancyPotential), never derived from this field.
        FEMALE = "female", "female"
        MALE = "male", "male"
        OTHER = "other", "other"
        UNKNOWN = "unknown", "unknown"

    clinic = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="patients"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patient_record",
    )
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    jurisdiction = models.CharField(max_length=2, choices=choices(Jurisdiction))
    administrative_gender = models.CharField(
        max_length=10, choices=AdministrativeGender.choices, default=AdministrativeGender.UNKNOWN
    )
    clinic_record_number = models.CharField(max_length=40, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    country = models.CharField(
        max_length=2,
        blank=True,
        help_text="ISO 3166 code of where the patient lives, for the emergency and crisis numbers "
        "they are shown; empty: those of the jurisdiction",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["family_name", "given_name"]
        constraints = [
            one_of("jurisdiction", Jurisdiction, name="patient_jurisdiction_valid"),
            one_of(
                "administrative_gender",
                ["female", "male", "other", "unknown"],
                name="patient_administrative_gender_valid",
            ),
            models.UniqueConstraint(
                fields=["clinic", "clinic_record_number"],
                condition=~models.Q(clinic_record_number=""),
                name="patient_record_number_unique_per_clinic",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day: dt.date) -> int:
        had_birthday = (day.month, day.day) >= (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - (0 if had_birthday else 1)


class Guardianship(models.Model):
    """A parent or guardian who acts for a patient (a minor, or an adult who needs one)."""

    guardian = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="guardianships"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="guardianships")
    relationship = models.CharField(max_length=40, default="parent")
    since = models.DateField()
    until = models.DateField(null=True, blank=True)
    continues_into_adulthood = models.BooleanField(
        default=False,
        help_text="a guardianship of an adult; otherwise it ends when the patient turns 18",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["guardian", "patient"], name="guardianship_unique"),
            models.CheckConstraint(
                condition=models.Q(until__isnull=True) | models.Q(until__gte=models.F("since")),
                name="guardianship_ends_after_it_starts",
            ),
        ]


class PregnancyPotential(models.Model):
    """The prescriber's assessment of whether the patient can become pregnant; newest applies.

    The programmes classify by reproductive potential, not by sex or gender identity
    (programs.md 1.3), so this is its own dated record with the reason and who set it.
    """

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="pregnancy_potential_assessments"
    )
    can_become_pregnant = models.BooleanField()
    reason = models.TextField()
    assessed_on = models.DateField()
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-assessed_on", "-recorded_at", "-id"]
        get_latest_by = ["assessed_on", "recorded_at", "id"]


class WeightMeasurement(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="weights")
    measured_on = models.DateField()
    weight_kg = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        validators=[MinValueValidator(20), MaxValueValidator(250)],
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-measured_on", "-recorded_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weight_kg__gte=20, weight_kg__lte=250),
                name="weight_kg_between_20_and_250",
            ),
        ]


class Allergy(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="allergies")
    substance = models.CharField(max_length=200, help_text="as the patient or record names it")
    reaction = models.CharField(max_length=200, blank=True)
    recorded_on = models.DateField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)

    class Meta:
        verbose_name_plural = "allergies"


class CurrentMedicine(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="medicines")
    name = models.CharField(max_length=200)
    rxnorm_code = models.CharField(max_length=20, blank=True, help_text="RxCUI, where known")
    started_on = models.DateField(null=True, blank=True)
    stopped_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)


class Diagnosis(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="diagnoses")
    icd10_code = models.CharField(max_length=10, help_text="ICD-10(-CM), e.g. L70.0")
    description = models.CharField(max_length=200)
    recorded_on = models.DateField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)

    class Meta:
        verbose_name_plural = "diagnoses"
