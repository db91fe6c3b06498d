"""Reads for screening pages: what the form starts from, and a patient's screenings."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from isoguard.patients.models import Patient
from isoguard.screenings.models import Screening


def screening_initial(patient: Patient) -> dict[str, Any]:
    """Return the screening form's starting values from what the record already knows."""
    potential = patient.pregnancy_potential_assessments.first()
    last_course = (
        patient.courses.filter(last_dose_on__isnull=False).order_by("-last_dose_on").first()
    )
    previous = Screening.objects.filter(patient=patient).first()
    initial: dict[str, Any] = {
        "allergies": "\n".join(a.substance for a in patient.allergies.all()),
        "medicines": "\n".join(m.name for m in patient.medicines.filter(stopped_on__isnull=True)),
        "can_become_pregnant": (
            "unknown" if potential is None else ("yes" if potential.can_become_pregnant else "no")
        ),
        "previous_course_last_dose": last_course.last_dose_on if last_course else None,
    }
    if previous is not None:
        for key in ("diagnosis", "failed_treatments"):
            if key in previous.request:
                initial[key] = previous.request[key]
    return initial


def screenings_of(patient: Patient) -> QuerySet[Screening]:
    return Screening.objects.filter(patient=patient).select_related("performed_by", "course")
