"""The patient's monthly checklist page."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.courses import checklist_services as services
from isoguard.courses.models import Course
from isoguard.web.params import whole_number


@login_required
def checklist_page(request: HttpRequest, course_id: int) -> HttpResponse:
    """This month's comprehension questions, the contraception check, and the Medication Guide."""
    user: User = request.user  # type: ignore[assignment]
    course = get_object_or_404(Course.objects.select_related("patient"), pk=course_id)
    # Who may see this course is checked first, whatever the request: a refused step must not
    # render another patient's checklist.
    services.patients_course(user, course.pk, "view_checklist", request)
    result = None
    if request.method == "POST":
        step = request.POST.get("step")
        try:
            if step == "contraception":
                services.contraception_confirm(user=user, course_id=course.pk, request=request)
                messages.success(
                    request, "Thank you: your contraception is confirmed for this month."
                )
                return redirect("checklist", course_id=course.pk)
            if step == "medication_guide":
                services.medication_guide_acknowledge(
                    user=user,
                    prescription_id=_int(request.POST.get("prescription")),
                    request=request,
                )
                messages.success(request, "Medication Guide acknowledged for this fill.")
                return redirect("checklist", course_id=course.pk)
            answers = {
                key[len("q_") :]: int(value)
                for key, value in request.POST.items()
                if key.startswith("q_") and re.fullmatch(r"-?[0-9]{1,9}", value)
            }
            _, result = services.comprehension_answer(
                user=user, course_id=course.pk, answers=answers, request=request
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    questions = services.month_questions(course, timezone.localdate())
    waiting = course.prescriptions.filter(
        dispense__isnull=True, medication_guide_ack__isnull=True, cancelled_at__isnull=True
    ).first()
    marked = {a.question_id: a for a in result.answers} if result else {}
    context = {
        "course": course,
        "patient": course.patient,
        "questions": questions,
        "result": result,
        "marked": marked,
        "waiting": waiting,
    }
    return render(request, "isoguard/checklist.html", context)


def _int(value: str | None) -> int:
    """A posted id, or a ValidationError naming it."""
    number = whole_number(value)
    if number is None:
        raise ValidationError({"prescription": f"expected a prescription id, got {value!r}"})
    return number
