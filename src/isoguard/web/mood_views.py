"""The mood questionnaire (PHQ-9 or PHQ-A): the patient answers, or a clinician with them."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from isoguard.accounts.models import User
from isoguard.core.mood import load_mood
from isoguard.core.triage.advice import crisis_calls
from isoguard.core.vocabulary import Role
from isoguard.courses import mood_services as services
from isoguard.courses.report_services import country_of
from isoguard.patients.access import patient_for, require_role
from isoguard.web.params import whole_number


@login_required
@require_http_methods(["GET", "POST"])
def mood_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    require_role(user, services.SCREEN_ROLES, action="view_mood_form", patient_id=patient_id,
                 request=request)  # fmt: skip
    patient = patient_for(user, patient_id, action="view_mood_form", request=request)
    errors: dict[str, list[str]] = {}
    chosen: dict[str, str] = {}
    if request.method == "POST":
        chosen = {k: v for k, v in request.POST.items() if k.startswith(("item_", "extra_"))}
        answers = {
            int(key[5:]): int(value)
            for key, value in chosen.items()
            if key.startswith("item_") and _small_int(key[5:]) and _small_int(value)
        }
        yes_no = {"yes": True, "no": False}
        extras = {
            key[6:]: yes_no.get(value, value)
            for key, value in chosen.items()
            if key.startswith("extra_")
        }
        try:
            assessment, _ = services.mood_record(
                user=user, patient_id=patient.pk, answers=answers, extras=extras, request=request
            )
        except ValidationError as error:
            errors = error.message_dict
        else:
            return redirect("mood_detail", assessment_id=assessment.pk)
    try:
        tool = services.screen_tool(patient, timezone.localdate())
    except ValidationError as error:
        return render(request, "isoguard/mood_form.html",
                      {"patient": patient, "errors": error.message_dict}, status=400)  # fmt: skip
    picked = {k: int(v) for k, v in chosen.items() if k.startswith("item_") and _small_int(v)}
    rows = [(item, picked.get(f"item_{item.id}"), errors.get(f"item {item.id}", []))
            for item in tool.item]  # fmt: skip
    extra_rows = [(extra, chosen.get(f"extra_{extra.id}"), errors.get(extra.id, []))
                  for extra in tool.extra]  # fmt: skip
    context = {
        "patient": patient, "tool": tool, "errors": errors, "rows": rows, "extra_rows": extra_rows,
        "extra_ids": [e.id for e in tool.extra],
    }  # fmt: skip
    return render(request, "isoguard/mood_form.html", context, status=400 if errors else 200)


def _small_int(text: str) -> bool:
    return whole_number(text, digits=9) is not None


@login_required
def mood_detail(request: HttpRequest, assessment_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    assessment = services.assessment_for(user, assessment_id, request=request)
    result = services.stored_score(assessment)
    tool = load_mood().tool(assessment.tool)
    options = {o.value: o.label for o in tool.option}
    context = {
        "assessment": assessment,
        "patient": assessment.patient,
        "result": result,
        "tool": tool,
        "rows": [(item, options[a]) for item, a in zip(tool.item, result.answers, strict=True)],
        "calls": crisis_calls(country_of(assessment.patient)) if result.crisis else (),
        "crisis": load_mood().crisis,
        "is_patient": user.role == Role.PATIENT,
        "report": getattr(assessment, "report", None),
    }
    return render(request, "isoguard/mood_detail.html", context)
