"""Dosing pages: the prescriber sets the dose; the patient keeps the diary and sees progress."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from isoguard.accounts.models import User
from isoguard.core.dosing import DosingError, default_mg_per_kg_day
from isoguard.core.vocabulary import DoseTime, Role
from isoguard.courses.convert import course_record
from isoguard.courses.dosing_selectors import course_progress, dose_plan_in_force, plans_by_day
from isoguard.courses.dosing_services import diary_record, dose_plan_set
from isoguard.courses.models import Course, DosePlan
from isoguard.courses.selectors import course_timeline
from isoguard.patients.access import patient_for, require_role
from isoguard.reminders.services import preference_for
from isoguard.web.calendar import DatedStep, course_calendar
from isoguard.web.charts import cumulative_chart

DIARY_DAYS = 14
MISSED_ADVICE = "Missed dose skipped. Do not take two doses to make up for it."


class DosePlanForm(forms.Form):
    mg_per_kg_day = forms.DecimalField(
        label="Dose (mg/kg/day)", min_value=Decimal("0.01"), max_digits=4, decimal_places=2
    )
    target_mg_per_kg = forms.IntegerField(
        label="Cumulative target (mg/kg)", min_value=60, max_value=220
    )
    weight_kg = forms.DecimalField(label="Weight (kg)", max_digits=5, decimal_places=1)
    effective_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(
        label="Reason for the change",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


PATIENT_AND_CLINIC = (Role.PATIENT, Role.GUARDIAN, Role.PRESCRIBER, Role.CLINIC_STAFF)


def add_service_error(form: forms.Form, error: ValidationError) -> None:
    """Show a service's refusal on the field it names (a date out of its window, for one), or
    above the form when it names none."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, errors in error.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def progress_context(course: Course, today: dt.date) -> dict[str, Any]:
    """Return the progress, chart and plan in force of a course, for any page that shows them."""
    plan = dose_plan_in_force(course, today)
    # Today's doses are not missed before they are due: until one is ticked, progress is as of
    # the end of yesterday.
    ticked_today = course.diary.filter(day=today).exists()
    as_of = today if ticked_today else today - dt.timedelta(days=1)
    if course.first_dose_on is not None:
        as_of = max(as_of, course.first_dose_on)
    progress = course_progress(course, as_of)
    chart = (
        cumulative_chart(progress, course.first_dose_on)
        if progress and course.first_dose_on
        else None
    )
    return {"plan": plan, "progress": progress, "chart": chart}


@login_required
def dose_plan_page(request: HttpRequest, course_id: int) -> HttpResponse:
    """Show the course's dose, progress and history; a prescriber may set a new dose."""
    user: User = request.user  # type: ignore[assignment]
    course = get_object_or_404(Course.objects.select_related("patient"), pk=course_id)
    require_role(user, (Role.PRESCRIBER, Role.CLINIC_STAFF), action="view_dose_plan",
                 obj=course, patient_id=course.patient_id, request=request)  # fmt: skip
    patient = patient_for(user, course.patient_id, request=request)
    today = timezone.localdate()
    weight = patient.weights.first()
    if request.method == "POST":
        form = DosePlanForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                dose_plan_set(
                    user=user, course_id=course.pk, mg_per_kg_day=data["mg_per_kg_day"],
                    target_mg_per_kg=data["target_mg_per_kg"], weight_kg=data["weight_kg"],
                    effective_from=data["effective_from"], reason=data["reason"],
                    request=request,
                )  # fmt: skip
            except DosingError as error:
                field = "effective_from" if error.field == "start" else error.field
                form.add_error(field if field in form.fields else None, error.message)
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(request, "The new dose is saved; the history is kept.")
                return redirect("dose_plan", course_id=course.pk)
    else:
        form = DosePlanForm(initial={
            "mg_per_kg_day": str(default_mg_per_kg_day(course.product)),
            "target_mg_per_kg": course.target_mg_per_kg,
            "weight_kg": weight.weight_kg if weight else None,
            "effective_from": today,
        })  # fmt: skip
    context = {
        "course": course, "patient": patient, "form": form, "today": today,
        "history": DosePlan.objects.filter(course=course).select_related("set_by"),
        **progress_context(course, today),
    }  # fmt: skip
    return render(request, "isoguard/dose_plan.html", context)


@login_required
def diary_page(request: HttpRequest, course_id: int) -> HttpResponse:
    """Show the dose diary of the last two weeks, with the progress it gives."""
    user: User = request.user  # type: ignore[assignment]
    course = get_object_or_404(Course.objects.select_related("patient"), pk=course_id)
    require_role(user, PATIENT_AND_CLINIC, action="view_diary", obj=course,
                 patient_id=course.patient_id, request=request)  # fmt: skip
    patient = patient_for(user, course.patient_id, request=request)
    return render(request, "isoguard/diary.html", diary_context(course, patient, user))


def diary_context(course: Course, patient: object, user: User) -> dict[str, Any]:
    today = timezone.localdate()
    entries = {
        (e.day, e.time): e
        for e in course.diary.filter(day__gte=today - dt.timedelta(days=DIARY_DAYS - 1))
    }
    first = course.first_dose_on
    plan_on = plans_by_day(course)
    days = [
        {
            "day": day,
            "slots": [
                {"time": time.value, "entry": entries.get((day, time.value)),
                 "mg": plan.dose_mg(time) if (plan := plan_on(day)) else None}
                for time in DoseTime
            ],
        }
        for offset in range(DIARY_DAYS)
        if (day := today - dt.timedelta(days=offset)) and first is not None and day >= first
    ]  # fmt: skip
    return {
        "course": course, "patient": patient, "days": days, "today": today,
        "can_record": user.role in (Role.PATIENT, Role.GUARDIAN),
        "missed_advice": MISSED_ADVICE,
        **progress_context(course, today),
    }  # fmt: skip


@login_required
@require_POST
def diary_record_view(request: HttpRequest, course_id: int) -> HttpResponse:
    """Record one dose as taken or missed, then show the diary again (htmx or a full page)."""
    user: User = request.user  # type: ignore[assignment]
    course = get_object_or_404(Course.objects.select_related("patient"), pk=course_id)
    try:
        day = dt.date.fromisoformat(request.POST.get("day", ""))
        time = DoseTime(request.POST.get("time", ""))
        taken = {"taken": True, "missed": False}[request.POST.get("answer", "")]
    except (ValueError, KeyError):
        messages.error(
            request, "day must be a date, time morning or evening, answer taken or missed."
        )
        return redirect("diary", course_id=course.pk)
    try:
        diary_record(
            user=user, course_id=course.pk, day=day, time=time, taken=taken, request=request
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if not taken:
            messages.warning(request, MISSED_ADVICE)
    if request.headers.get("HX-Request") == "true":
        patient = patient_for(user, course.patient_id, request=request)
        context = {**diary_context(course, patient, user), "htmx": True}
        return render(request, "isoguard/_diary.html", context)
    return redirect("diary", course_id=course.pk)


@login_required
def course_calendar_file(request: HttpRequest, course_id: int) -> HttpResponse:
    """Return the course's calendar (.ics): dose times and the dates ahead."""
    user: User = request.user  # type: ignore[assignment]
    course = get_object_or_404(Course.objects.select_related("patient"), pk=course_id)
    require_role(user, PATIENT_AND_CLINIC, action="export_calendar", obj=course,
                 patient_id=course.patient_id, request=request)  # fmt: skip
    patient_for(user, course.patient_id, request=request, action="export_calendar")
    today = timezone.localdate()
    context = progress_context(course, today)
    plan, progress = context["plan"], context["progress"]
    if plan is None:
        raise PermissionDenied("The prescriber has not set a dose yet, so there is no calendar.")
    end = progress.projected_end if progress else dt.date.fromisoformat(plan.plan["end_date"])
    steps = [
        DatedStep(
            end,
            "Isotretinoin: projected last dose",
            "The day the course is projected to reach its cumulative target.",
        )
    ]
    # What is due now, and what will be due once the course ends on the projected day: the
    # same timeline the pages show (isoguard.core.programs.obligations).
    record = course_record(course)
    ended = dataclasses.replace(record, course=dataclasses.replace(record.course, last_dose=end))
    day_after = (
        timezone.now()
        if end < today
        else dt.datetime.combine(
            end + dt.timedelta(days=1), dt.time(12), tzinfo=timezone.get_current_timezone()
        )
    )
    for item in (
        *course_timeline(course, record=record),
        *course_timeline(course, record=ended, as_of=day_after),
    ):
        if item.who == "patient":
            steps.append(DatedStep(item.due, item.what, f"Source: {item.source}"))
    # The times the patient chose for their reminders (docs/reminders.md), or the defaults.
    preference = preference_for(course.patient)
    body = course_calendar(
        course_uid=f"course-{course.pk}", time_zone=str(timezone.get_current_timezone()),
        first_day=max(today, course.first_dose_on or today), last_day=end,
        doses_mg={"morning": plan.morning_mg, "evening": plan.evening_mg},
        instructions=[i["message"] for i in plan.plan.get("how_to_take", [])],
        steps=steps, stamp=timezone.now(),
        dose_times={t.value: preference.dose_time(t.value) for t in DoseTime},
    )  # fmt: skip
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="isotretinoin-course-{course.number}.ics"'
    )
    return response
