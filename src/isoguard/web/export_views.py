"""Exports: the clinic's courses as CSV, and a patient's summary to print for a visit."""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.core.vocabulary import Role
from isoguard.courses import report_services
from isoguard.courses import selectors as course_selectors
from isoguard.courses.worklist import WorkItem, clinic_worklist, listed_courses
from isoguard.operations.routers import reports_database
from isoguard.patients.access import patient_for, patients_visible_to, require_role
from isoguard.patients.models import Patient
from isoguard.web.dosing_views import progress_context
from isoguard.web.views import audit_list

COLUMNS = (
    "patient", "record number", "born", "course", "product", "programme", "status", "enrolled",
    "first dose", "last dose", "next due", "next due on", "who acts", "open reports",
)  # fmt: skip


@login_required
def courses_csv(request: HttpRequest) -> HttpResponse:
    """Every course of the clinic that is in screening, under way or just ended, with what is
    next; a spreadsheet can sort and filter it."""
    user: User = request.user  # type: ignore[assignment]
    require_role(user, report_services.STAFF_ROLES, action="export_courses", patient_id=None,
                 request=request)  # fmt: skip
    today = timezone.localdate()
    with reports_database():  # the read replica, when there is one (operations/routers.py)
        return _courses_csv(request, user, today)


def _courses_csv(request: HttpRequest, user: User, today: dt.date) -> HttpResponse:
    items = clinic_worklist(user, today)
    first_due: dict[int, WorkItem] = {}
    reports: dict[int, int] = {}
    for item in items:
        if item.kind == "report":
            reports[item.patient.pk] = reports.get(item.patient.pk, 0) + 1
        elif item.course is not None:
            first_due.setdefault(item.course.pk, item)
    courses = {
        c.pk: c for c in listed_courses(patients_visible_to(user), today).select_related("patient")
    }
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="isoguard-courses-{timezone.localdate():%Y-%m-%d}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(COLUMNS)
    for course in sorted(courses.values(), key=lambda c: (c.patient.family_name, c.number)):
        patient = course.patient
        due = first_due.get(course.pk)
        writer.writerow([
            _cell(patient.full_name), _cell(patient.clinic_record_number), patient.birth_date,
            course.number, course.product, course.rule_pack, course.status,
            course.enrolled_on or "", course.first_dose_on or "", course.last_dose_on or "",
            _cell(due.what) if due else "", (due.due or "") if due else "",
            due.who if due else "", reports.get(patient.pk, 0),
        ])  # fmt: skip
    audit_list(user, request, "export.courses", sorted({c.patient_id for c in courses.values()}))
    return response


def _cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@login_required
def patient_summary(request: HttpRequest, patient_id: int) -> HttpResponse:
    """One page to print for a visit: the patient, the course, doses, tests, labs, screens."""
    user: User = request.user  # type: ignore[assignment]
    require_role(user, (Role.PRESCRIBER, Role.CLINIC_STAFF, Role.PATIENT), action="view_summary",
                 patient_id=patient_id, request=request)  # fmt: skip
    patient = patient_for(user, patient_id, action="view_summary", request=request)
    with reports_database():  # the read replica, when there is one (operations/routers.py)
        return _patient_summary(request, user, patient)


def _patient_summary(request: HttpRequest, user: User, patient: Patient) -> HttpResponse:
    today = timezone.localdate()
    context: dict[str, object] = {"patient": patient, "today": today}
    context.update(course_selectors.patient_record(patient, today=today))
    course = patient.courses.order_by("-number").first()
    if course is not None:
        context["course"] = course
        context["timeline"] = course_selectors.course_timeline(course)
        if course.first_dose_on:
            context.update(progress_context(course, today))
    context["mood_assessments"] = list(patient.mood_assessments.order_by("-assessed_on")[:6])
    context["reports"] = list(report_services.reports_of(patient, user)[:10])
    return render(request, "isoguard/patient_summary.html", context)
