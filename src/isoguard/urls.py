from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from isoguard.api.v1 import api
from isoguard.security import views as security_views
from isoguard.web import (
    checklist_views,
    dosing_views,
    export_views,
    lab_views,
    mood_views,
    pharmacy_views,
    programme_views,
    report_views,
    screening_views,
    views,
    worklist_views,
)

admin.site.site_header = "isoguard administration"

urlpatterns = [
    path("", views.home, name="home"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient_detail"),
    path("patients/<int:patient_id>/country/", views.patient_country, name="patient_country"),
    path(
        "patients/<int:patient_id>/screening/new/",
        screening_views.screening_new,
        name="screening_new",
    ),
    path(
        "screenings/<int:screening_id>/", screening_views.screening_detail, name="screening_detail"
    ),
    path(
        "screenings/<int:screening_id>/start-course/",
        screening_views.screening_start_course,
        name="screening_start_course",
    ),
    path("patients/<int:patient_id>/reports/new/", report_views.report_new, name="report_new"),
    path("patients/<int:patient_id>/mood/new/", mood_views.mood_new, name="mood_new"),
    path("mood/<int:assessment_id>/", mood_views.mood_detail, name="mood_detail"),
    path("worklist/", worklist_views.worklist_page, name="worklist"),
    path("exports/courses.csv", export_views.courses_csv, name="export_courses"),
    path(
        "patients/<int:patient_id>/summary/", export_views.patient_summary, name="patient_summary"
    ),
    path("notifications/", include("isoguard.reminders.urls")),
    path("fhir/R4/", include("isoguard.interop.fhir.urls")),
    path("", include("isoguard.interop.cdshooks.urls")),
    path("patients/<int:patient_id>/labs/new/", lab_views.lab_new, name="lab_new"),
    path("labs/<int:lab_id>/review/", lab_views.lab_review, name="lab_review"),
    path("reports/<int:report_id>/", report_views.report_detail, name="report_detail"),
    path("courses/<int:course_id>/dose/", dosing_views.dose_plan_page, name="dose_plan"),
    path("courses/<int:course_id>/programme/", programme_views.programme_page, name="programme"),
    path("courses/<int:course_id>/checklist/", checklist_views.checklist_page, name="checklist"),
    path("courses/<int:course_id>/diary/", dosing_views.diary_page, name="diary"),
    path(
        "courses/<int:course_id>/diary/record/",
        dosing_views.diary_record_view,
        name="diary_record",
    ),
    path(
        "courses/<int:course_id>/calendar.ics",
        dosing_views.course_calendar_file,
        name="course_calendar",
    ),
    path(
        "pharmacy/prescriptions/<int:prescription_id>/",
        pharmacy_views.prescription_page,
        name="pharmacy_prescription",
    ),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=security_views.LoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", security_views.verify, name="two_factor_verify"),
    path("accounts/security/", security_views.account, name="account_security"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]

handler500 = "isoguard.operations.middleware.server_error"
