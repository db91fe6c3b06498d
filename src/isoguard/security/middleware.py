"""The Content-Security-Policy header, and the second login step for two-factor accounts."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from isoguard.security.two_factor import second_step

# Requests from systems and scripts, not pages: a session that has not passed its second step is
# treated as no login at all there (an API token works as before).
API_PREFIXES = ("/api/", "/fhir/", "/cds-services", "/rems/")


class ContentSecurityPolicyMiddleware:
    """Send settings.CONTENT_SECURITY_POLICY with every response that does not set its own.

    Django's debug error pages (DEBUG on) use inline scripts and styles, so they go without it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.DEBUG and response.status_code >= 400:
            return response
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response


class TwoFactorMiddleware:
    """After django-otp's OTPMiddleware: a person who logged in with a password but still owes a
    code (a confirmed device) or an enrolment (ISOGUARD_REQUIRE_2FA_FOR_STAFF) is sent to that step
    from every page, and counts as not logged in for the API."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        step = second_step(request)
        if step is not None:
            path = request.path_info
            if path.startswith(API_PREFIXES):
                request.user = AnonymousUser()

                async def anonymous() -> AnonymousUser:
                    return AnonymousUser()

                request.auser = anonymous  # type: ignore[attr-defined]
            elif path not in self.open_paths(step) and not path.startswith(
                "/" + settings.STATIC_URL.lstrip("/")
            ):
                target = reverse("two_factor_verify" if step == "verify" else "account_security")
                return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def open_paths(step: str) -> set[str]:
        """The pages that open before the second step: the step itself, and the way out."""
        paths = {
            reverse("two_factor_verify"),
            reverse("login"),
            reverse("logout"),
            reverse("healthz"),
        }
        if step == "enrol":
            paths.add(reverse("account_security"))
        return paths
