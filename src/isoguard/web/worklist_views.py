"""The clinic's worklist page: everything due, for every patient, most urgent first."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.courses import report_services
from isoguard.courses import worklist as selectors
from isoguard.patients.access import require_role
from isoguard.web.params import whole_number
from isoguard.web.views import audit_list

FILTERS = {"kind": selectors.KINDS, "who": selectors.WHO}
MAX_PAGE = 1000
"""Pages are read from the most urgent on; further than this is a mistake, not a need."""


@login_required
def worklist_page(request: HttpRequest) -> HttpResponse:
    """Filter by what (report, programme, mood), by who acts, or to what is urgent today."""
    user: User = request.user  # type: ignore[assignment]
    require_role(user, report_services.STAFF_ROLES, action="list_worklist", patient_id=None,
                 request=request)  # fmt: skip
    chosen = {
        name: request.GET.get(name, "") if request.GET.get(name, "") in allowed else ""
        for name, allowed in FILTERS.items()
    }
    urgent = request.GET.get("urgent") == "1"
    asked = request.GET.get("page", "1")
    number = whole_number(asked, digits=4)
    error = ""
    if number is None or not 1 <= number <= MAX_PAGE:
        error = (
            f"page: expected a whole number from 1 to {MAX_PAGE}, got {asked[:20]!r}; "
            "the first page is shown."
        )
        number = 1
    today = timezone.localdate()
    page = selectors.worklist_page(
        user, today, kind=chosen["kind"], who=chosen["who"], urgent_only=urgent,
        number=number,
    )  # fmt: skip
    audit_list(user, request, "worklist", sorted({i.patient.pk for i in page.items}))
    query = {k: v for k, v in chosen.items() if v} | ({"urgent": "1"} if urgent else {})
    context = {
        "items": page.items,
        "page": page,
        "previous_url": "?" + urlencode(query | {"page": page.number - 1})
        if page.number > 1
        else "",
        "next_url": "?" + urlencode(query | {"page": page.number + 1}) if page.more else "",
        "chosen": chosen,
        "urgent": urgent,
        "filters": FILTERS,
        "today": today,
        "error": error,
    }
    return render(request, "isoguard/worklist.html", context, status=400 if error else 200)
