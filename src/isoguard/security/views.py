"""The account page (two-factor login: set up, turn off) and the code step after the password."""

from __future__ import annotations

from urllib.parse import urlencode

import django_otp
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from isoguard.security import two_factor


class LoginForm(AuthenticationForm):
    """Django's login form, with the username's length checked before the password is: Django
    sets the field's max_length after the field is made, so no validator enforces it, and a longer
    username reached django-axes, whose record of the failure (255 characters) PostgreSQL refused
    with a server error."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))


def safe_next(request: HttpRequest, default: str = "/") -> str:
    """The `next` address if it stays on this site, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@never_cache
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The second login step: the code from the authenticator app."""
    user = request.user
    device = two_factor.confirmed_device(user)
    if device is None:  # removed behind the app's back (SQL): no redirect back here in a loop
        two_factor.remember(request, user)
    if device is None or user.is_verified():  # type: ignore[union-attr]
        return redirect(safe_next(request))
    error = ""
    if request.method == "POST":
        problem = two_factor.check_code(user, device, request.POST.get("token", ""), request)
        if problem is None:
            request.session.cycle_key()
            django_otp.login(request, device)
            return redirect(safe_next(request))
        error = problem
    return render(
        request,
        "security/verify.html",
        {"error": error, "next": safe_next(request, "")},
        status=400 if error else 200,
    )


@never_cache
@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The signed-in person's account: who they are, and their two-factor login."""
    user = request.user
    if request.method == "POST":
        return account_change(request)
    device = two_factor.confirmed_device(user)
    pending = None if device is not None else two_factor.pending_device(user)
    context: dict[str, object] = {
        "staff": two_factor.is_staff_role(user),
        "required": two_factor.required_for(user),
        "device": device,
        "pending": pending,
        "next": safe_next(request, ""),
    }
    if pending is not None:
        uri = pending.config_url
        context.update(otpauth_uri=uri, qr_svg=two_factor.qr_svg(uri),
                       secret=two_factor.secret_text(pending))  # fmt: skip
    return render(request, "security/account.html", context)


def account_change(request: HttpRequest) -> HttpResponse:
    user = request.user
    action = request.POST.get("action", "")
    target = safe_next(request, "")
    back = redirect(
        reverse("account_security") + (f"?{urlencode({'next': target})}" if target else "")
    )
    if not two_factor.is_staff_role(user):
        messages.error(
            request, "Two-factor login is for clinic, pharmacy and administration staff."
        )
        return back
    if action == "start":
        if two_factor.confirmed_device(user) is None:
            two_factor.enrolment_start(user, request)
    elif action == "cancel":
        two_factor.enrolment_cancel(user)
    elif action == "confirm":
        device = two_factor.enrolment_confirm(user, request.POST.get("token", ""), request)
        if device is None:
            messages.error(
                request,
                "That code is not right. Check the app shows an isoguard entry for your username, "
                "and enter the 6-digit code it shows now.",
            )
            return back
        request.session.cycle_key()
        django_otp.login(request, device)
        messages.success(request, "Two-factor login is on: from now on isoguard asks for a code.")
        return redirect(target) if target else back
    elif action == "remove":
        device = two_factor.confirmed_device(user)
        if device is None:
            return back
        if two_factor.required_for(user):
            messages.error(
                request,
                "Your clinic requires two-factor login, so it cannot be turned off. For a new "
                "phone, ask your clinic's isoguard administrator to remove the old device.",
            )
            return back
        problem = two_factor.check_code(user, device, request.POST.get("token", ""), request)
        if problem is not None:
            messages.error(request, problem)
            return back
        two_factor.device_remove(user, device, request, actor=user)
        messages.success(request, "Two-factor login is off.")
    return back
