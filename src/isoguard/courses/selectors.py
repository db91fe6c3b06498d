"""Reads of courses and what hangs off them, for the role home pages and the patient record."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from isoguard.core import model
from isoguard.core.programs.obligations import Obligation, obligations
from isoguard.core.vocabulary import CourseStatus, FindingStatus
from isoguard.courses.convert import course_record
from isoguard.courses.models import Course, Prescription
from isoguard.courses.programme_services import NOT_SCREENED_HERE
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


def course_timeline(
    course: Course,
    *,
    record: model.CourseRecord | None = None,
    as_of: datetime.datetime | None = None,
) -> tuple[Obligation, ...]:
    """What is outstanding on the course: who does what, by when (soonest first).

    The one way the app reads the programme's timeline: with the clinic's pack settings (as the
    decisions apply them), in the clinic's time zone, nothing while the course is in screening
    (but the screening itself for a course imported open, which nothing is authorised on).
    Pass `record` when the caller has built it already.
    """
    if course.awaiting_screening:
        # Imported open: its old deadlines do not hold here (every decision is refused until the
        # patient is screened here), so the one step is the screening, due since the import.
        imported_on = timezone.localdate(course.created_at)
        today = timezone.localdate(as_of)
        status = FindingStatus.OVERDUE if imported_on < today else FindingStatus.DUE
        return (
            Obligation("screened_here", "prescriber", NOT_SCREENED_HERE.message, imported_on,
                       status, NOT_SCREENED_HERE.source),
        )  # fmt: skip
    if course.status == CourseStatus.SCREENING:
        return ()
    return obligations(
        record or course_record(course), timezone.localtime(as_of), pack=course.rule_pack,
        settings=settings.ISOGUARD_PACK_SETTINGS.get(course.rule_pack, {}),
    )  # fmt: skip
