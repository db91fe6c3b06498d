"""Reads of courses and what hangs off them, for the role home pages and the patient record."""

from __future__ import annotations

import datetime

from django.db.models import Prefetch, QuerySet

from isoguard.courses.models import Course, Prescription
from isoguard.patients.access import pharmacy_prescriptions
from isoguard.patients.models import Patient


def patients_with_courses(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Return the patients with their courses (newest first) loaded in one extra query."""
    return patients.prefetch_related(
        Prefetch("courses", queryset=Course.objects.order_by("-number"), to_attr="course_list")
    )


def prescriptions_presented_at(pharmacy_id: int) -> QuerySet[Prescription]:
    """Return the prescriptions presented at a pharmacy, newest first, with patient and dispense."""
    return (
        pharmacy_prescriptions(pharmacy_id)
        .select_related("course__patient", "prescriber", "dispense")
        .order_by("-written_on", "-id")
    )


def patient_record(patient: Patient, *, today: datetime.date) -> dict[str, object]:
    """Return everything the record page shows for a patient, each list newest first."""
    courses = (
        Course.objects.filter(patient=patient)
        .select_related("prescriber")
        .prefetch_related("prescriptions__dispense", "consents", "contraception")
        .order_by("-number")
    )
    return {
        "age": patient.age_on(today),
        "pregnancy_potential": patient.pregnancy_potential_assessments.first(),
        "weight": patient.weights.first(),
        "allergies": list(patient.allergies.all()),
        "medicines": list(patient.medicines.filter(stopped_on__isnull=True)),
        "diagnoses": list(patient.diagnoses.all()),
        "courses": list(courses),
        "pregnancy_tests": list(patient.pregnancy_tests.all()[:12]),
        "labs": list(patient.labs.all()[:12]),
    }


def course_timeline(course: Course) -> tuple[object, ...]:
    """Return what is outstanding on the course now: who does what, by when (soonest first)."""
    from django.utils import timezone

    from isoguard.core.programs.obligations import obligations
    from isoguard.courses.convert import course_record

    if course.status in ("screening",):
        return ()
    return obligations(course_record(course), timezone.localtime(), pack=course.rule_pack)
