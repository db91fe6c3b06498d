"""Side-effect reports: the patient writes or ticks, sees what to do now; the clinic reviews."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from isoguard.accounts.models import User
from isoguard.core.triage import load_checklist
from isoguard.core.vocabulary import Role
from isoguard.courses import report_services as services
from isoguard.patients.access import patient_for, require_role


@login_required
@require_http_methods(["GET", "POST"])
def report_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The report form; on POST, store and triage the report, then show what to do."""
    user: User = request.user  # type: ignore[assignment]
    errors: dict[str, list[str]] = {}
    text = ""
    ticked: list[str] = []
    if request.method == "POST":
        text = request.POST.get("text", "")
        ticked = request.POST.getlist("symptoms")
        try:
            report = services.report_submit(
                user=user, patient_id=patient_id, text=text, ticked=ticked, request=request
            )
        except ValidationError as error:
            errors = error.message_dict
        else:
            return redirect("report_detail", report_id=report.pk)
    require_role(user, services.REPORTER_ROLES, action="view_report_form", patient_id=patient_id,
                 request=request)  # fmt: skip
    patient = patient_for(user, patient_id, action="view_report_form", request=request)
    context = {
        "patient": patient,
        "checklist": load_checklist(),
        "text": text,
        "ticked": ticked,
        "errors": errors,
    }
    return render(request, "isoguard/report_form.html", context, status=400 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def report_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    """The patient sees what to do and whether the clinic has seen it; staff review it."""
    user: User = request.user  # type: ignore[assignment]
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            step = request.POST.get("step")
            if step not in ("acknowledge", "resolve"):
                raise ValidationError({"step": f"expected acknowledge or resolve, got {step!r}"})
            if step == "resolve":
                services.report_resolve(
                    user=user, report_id=report_id, note=request.POST.get("note", ""),
                    request=request,
                )  # fmt: skip
                messages.success(request, "Report resolved; the patient can see your note.")
            else:
                report = services.report_acknowledge(
                    user=user, report_id=report_id, request=request
                )
                if report.acknowledged_by_id == user.pk:
                    messages.success(
                        request, "Report acknowledged; the patient can see it was seen."
                    )
                else:
                    who = report.acknowledged_by
                    name = who.get_full_name() or who.get_username() if who else "a colleague"
                    messages.info(request, f"{name} had already acknowledged this report.")
            return redirect("report_detail", report_id=report_id)
        except ValidationError as error:
            errors = error.message_dict
    report = services.report_for(user, report_id, request=request)
    checklist = {item.id: item.label for item in load_checklist()}
    context = {
        "report": report,
        "patient": report.patient,
        "advice": services.report_advice(report),
        "ticked_labels": [checklist.get(i, i) for i in report.checklist],
        "staff": user.role in services.STAFF_ROLES,
        "is_patient_side": user.role in (Role.PATIENT, Role.GUARDIAN),
        "errors": errors,
    }
    return render(request, "isoguard/report_detail.html", context, status=400 if errors else 200)
