"""Lab results: the clinic records them on the patient's page and reviews those over a threshold."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from isoguard.accounts.models import User
from isoguard.core.labs import canonical, load_labs, threshold_overrides
from isoguard.courses import lab_services
from isoguard.courses.models import Course
from isoguard.patients.models import Patient
from isoguard.web.charts import lab_trends


@login_required
@require_POST
def lab_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    try:
        taken_on = dt.date.fromisoformat(request.POST.get("taken_on", ""))
    except ValueError:
        messages.error(request, "taken_on: expected a date YYYY-MM-DD.")
        return redirect("patient_detail", patient_id=patient_id)
    try:
        lab = lab_services.lab_record(
            user=user, patient_id=patient_id, test=request.POST.get("test", ""),
            value=request.POST.get("value", ""), unit=request.POST.get("unit", ""),
            taken_on=taken_on, fasting=request.POST.get("fasting") == "1", request=request,
        )  # fmt: skip
    except ValidationError as error:
        field, problems = next(iter(error.message_dict.items()))
        messages.error(request, f"{field}: {problems[0]}")
    else:
        if lab.findings:
            messages.warning(request, "Recorded, over a threshold: " + "; ".join(
                f["action"] for f in lab.findings))  # fmt: skip
        else:
            messages.success(request, "Recorded.")
    return redirect("patient_detail", patient_id=patient_id)


@login_required
@require_POST
def lab_review(request: HttpRequest, lab_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    lab = lab_services.lab_review(user=user, lab_id=lab_id, request=request)
    messages.success(request, "Marked as reviewed.")
    return redirect("patient_detail", patient_id=lab.patient_id)


def labs_context(patient: Patient, course: Course | None, today: dt.date) -> dict[str, object]:
    """What the clinic's part of the patient page shows of labs."""
    labs = load_labs()
    results = list(patient.labs.all())
    overrides = threshold_overrides(lab_services.thresholds())
    limits: dict[str, list[tuple[float, str]]] = {}
    for info in labs.tests:
        chosen = overrides.get(info.id, labs.thresholds_for(info.id))
        limits[info.id.value] = [
            (canonical(info.id, t.value, t.unit), f"{t.level.value} {t.value:g} {t.unit}")
            for t in chosen
        ]
    rows = [
        (lab.test, labs.test(lab.test).name, labs.test(lab.test).canonical_unit, lab.taken_on,
         canonical(lab.test, float(lab.value), lab.unit))
        for lab in results
    ]  # fmt: skip
    return {
        "lab_trends": lab_trends(rows, limits),
        "labs_due": lab_services.course_labs_due(course, today) if course else (),
        "open_lab_findings": lab_services.open_findings(results),
        "lab_form": True,
        "lab_tests": labs.tests,
        "lab_units": sorted({u.name for info in labs.tests for u in info.units}),
    }
