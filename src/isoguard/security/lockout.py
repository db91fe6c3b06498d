"""The login lockout (django-axes): which address a request comes from, and the page a locked-out
person sees, saying until when and how to get help."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind a proxy (ISOGUARD_BEHIND_PROXY) the last
    X-Forwarded-For entry, which the proxy added and the client cannot forge."""
    remote = request.META.get("REMOTE_ADDR", "")
    if settings.ISOGUARD_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            last = _address(forwarded.split(",")[-1])
            if last is not None:
                return last
    return _address(remote) if remote else None


def refused_while_locked_out(request: HttpRequest | None) -> bool:
    """Whether axes refused this log-in because the username was already locked out from the
    address: its backend did so before any password was checked (so no failed log-in may say the
    password was wrong). The try that reaches the limit is not one: it was checked, and counted
    (`axes_failures_since_start`, which axes sets only when it counts a failure)."""
    return bool(getattr(request, "axes_locked_out", False)) and (
        getattr(request, "axes_failures_since_start", None) is None
    )


def locked_until(username: str | None, ip_address: str | None) -> dt.datetime | None:
    """When the lockout of `username` from `ip_address` ends (None if it is not locked out)."""
    cool_off = get_cool_off()
    last = AccessAttempt.objects.filter(username=username, ip_address=ip_address).aggregate(
        last=Max("attempt_time")
    )["last"]
    if last is None or cool_off is None:
        return None
    return last + cool_off


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The login page again (429), saying the account is locked, until when, and who can help."""
    username = get_client_username(request, credentials) or ""
    until = locked_until(username, getattr(request, "axes_ip_address", None))
    minutes = None
    if until is not None:
        minutes = max(1, int((until - timezone.now()).total_seconds() + 59) // 60)
    form = AuthenticationForm(request, initial={"username": username})
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    return render(
        request,
        "registration/login.html",
        {
            "form": form,
            "next": next_url,
            "lockout": {"username": username, "until": until, "minutes": minutes},
        },
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
