"""The clinic's worklist page: everything due, for every patient, most urgent first."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.courses import report_services
from isoguard.courses import worklist as selectors
from isoguard.patients.access import require_role
from isoguard.web.views import audit_list

FILTERS = {"kind": selectors.KINDS, "who": selectors.WHO}


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
    items = selectors.clinic_worklist(
        user, timezone.localdate(), kind=chosen["kind"], who=chosen["who"], urgent_only=urgent
    )
    audit_list(user, request, "worklist", sorted({i.patient.pk for i in items}))
    context = {
        "items": items,
        "chosen": chosen,
        "urgent": urgent,
        "filters": FILTERS,
        "today": timezone.localdate(),
    }
    return render(request, "isoguard/worklist.html", context)
