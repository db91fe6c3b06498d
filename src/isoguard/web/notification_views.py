"""The patient's reminders: their in-app notifications, and how and when they are reminded.

A patient sees their own; a guardian those of the patients they care for. The url patterns are
in `isoguard.reminders.urls` (namespace "reminders").
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from isoguard.accounts.models import User
from isoguard.core.vocabulary import Role
from isoguard.patients.access import patients_visible_to, require_role
from isoguard.reminders import services
from isoguard.reminders.models import ContactPreference
from isoguard.web.params import whole_number

TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class PreferenceForm(forms.Form):
    in_app = forms.BooleanField(label="In isoguard (this page)", required=False)
    by_email = forms.BooleanField(label="By e-mail", required=False)
    by_sms = forms.BooleanField(label="By text message (SMS)", required=False)
    quiet_start = forms.TimeField(label="Quiet from", required=False, widget=TIME)
    quiet_end = forms.TimeField(label="Quiet until", required=False, widget=TIME)
    dose_reminders = forms.BooleanField(label="Remind me of each dose", required=False)
    morning_time = forms.TimeField(label="Morning dose at", widget=TIME)
    evening_time = forms.TimeField(label="Evening dose at", widget=TIME)


def preference_initial(preference: ContactPreference) -> dict[str, object]:
    return {name: getattr(preference, name) for name in services.PREFERENCE_FIELDS}


@login_required
@require_GET
def notifications_home(request: HttpRequest) -> HttpResponse:
    """A patient goes to their own list; a guardian to the one patient, or picks among several."""
    user: User = request.user  # type: ignore[assignment]
    require_role(user, services.PAGE_ROLES, action="view_notifications", patient_id=None,
                 request=request)  # fmt: skip
    patients = list(patients_visible_to(user))
    if len(patients) == 1:
        return redirect("reminders:notifications", patient_id=patients[0].pk)
    return render(request, "isoguard/notifications.html", {"choose": patients})


@login_required
@require_GET
def notifications_page(request: HttpRequest, patient_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    page = services.notifications_of(user=user, patient_id=patient_id, request=request)
    form = PreferenceForm(initial=preference_initial(page.preference))
    return render(request, "isoguard/notifications.html", _context(user, page, form))


@login_required
@require_POST
def notifications_read(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Mark one notification (`notification`) or, without it, all of them as read."""
    user: User = request.user  # type: ignore[assignment]
    raw = request.POST.get("notification", "")
    notification = whole_number(raw)
    if raw and notification is None:
        raise PermissionDenied("No such notification.")
    count = services.notifications_mark_read(
        user=user, patient_id=patient_id, notification_id=notification,
        request=request,
    )  # fmt: skip
    if not raw:
        messages.success(request, f"{count} marked as read." if count else "Nothing unread.")
    return redirect("reminders:notifications", patient_id=patient_id)


@login_required
@require_POST
def preferences_save(request: HttpRequest, patient_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = PreferenceForm(request.POST)
    if form.is_valid():
        try:
            services.preferences_set(
                user=user, patient_id=patient_id, request=request, **form.cleaned_data
            )
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                form.add_error(name if name in form.fields else None, problems)
        else:
            messages.success(request, "Your reminder choices are saved.")
            return redirect("reminders:notifications", patient_id=patient_id)
    page = services.notifications_of(user=user, patient_id=patient_id, request=request)
    return render(request, "isoguard/notifications.html", _context(user, page, form), status=400)


def _context(
    user: User, page: services.NotificationList, form: PreferenceForm
) -> dict[str, object]:
    return {
        "patient": page.patient,
        "notifications": page.notifications,
        "unread": page.unread,
        "form": form,
        "for_someone_else": user.role == Role.GUARDIAN,
    }
