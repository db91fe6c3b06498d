"""Report and mood pages: what the patient is told, what the clinic reviews, who is refused."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from isoguard.audit.models import AuditEvent
from isoguard.courses import mood_services, report_services
from isoguard.courses.models import MoodAssessment, SymptomReport
from tests.conftest import make_course, page_text

LIPS = "my lips are very dry and cracked"
CHEST = "chest pain this morning"
SCRIPT = "<script>alert(1)</script>"
STOP_HEADLINE = "Stop taking isotretinoin now and contact your prescriber right away."
SELF_CARE_HEADLINE = "This is a common, expected effect. Self-care helps (see below)."
CALM = {f"item_{i}": "0" for i in range(1, 10)}


def post_report(client, user, patient, text="", symptoms=()):
    client.force_login(user)
    return client.post(
        reverse("report_new", args=[patient.pk]), {"text": text, "symptoms": list(symptoms)}
    )


def submit(world, text, user=None, patient=None):
    """Store a report through the service, as the form does."""
    return report_services.report_submit(
        user=user or world.alice_user, patient_id=(patient or world.alice).pk, text=text
    )


def get_text(client, user, url, status=200) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == status
    return page_text(response)


def by_testid(text: str, name: str) -> str:
    """The first element with data-testid=name, up to its closing tag (no nesting of its tag)."""
    match = re.search(rf'<(\w+)[^>]*data-testid="{name}"[^>]*>(.*?)</\1>', text, re.S)
    assert match is not None, f"no data-testid={name!r} on the page"
    return match.group(2)


def worklist_rows(text: str) -> list[str]:
    return re.findall(r'<tr[^>]*data-testid="worklist-row"[^>]*>(.*?)</tr>', text, re.S)


def refusals(user) -> int:
    return AuditEvent.objects.filter(actor=user, outcome=AuditEvent.Outcome.REFUSED).count()


# --- The patient writes a report and sees what to do ------------------------------------------


def test_a_patient_posts_a_report_and_is_sent_to_its_page_with_self_care_tips(world, client):
    response = post_report(client, world.alice_user, world.alice, text=LIPS)

    report = SymptomReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("report_detail", args=[report.pk])
    assert (report.patient, report.submitted_by, report.text) == (
        world.alice,
        world.alice_user,
        LIPS,
    )
    text = get_text(client, world.alice_user, response["Location"])
    assert by_testid(text, "advice-headline") == SELF_CARE_HEADLINE
    assert "Use a lip balm often through the day." in by_testid(text, "self-care-tips")
    assert by_testid(text, "report-text") == LIPS
    assert "your clinic will see it at your next check-in" in by_testid(text, "report-status")
    assert 'data-testid="urgent-calls"' not in text
    assert 'data-testid="clinic-call"' not in text


def test_a_ticked_symptom_alone_is_a_report(world, client):
    response = post_report(client, world.alice_user, world.alice, symptoms=["dry_mouth"])

    assert response.status_code == 302
    report = SymptomReport.objects.get()
    assert (report.text, report.checklist, report.triage_level) == ("", ["dry_mouth"], "self_care")
    text = get_text(client, world.alice_user, response["Location"])
    assert "<li>Dry mouth</li>" in text
    assert 'data-testid="self-care-tips"' in text


def test_a_stop_and_call_report_shows_the_clinic_phone_when_the_clinic_has_one(world, client):
    world.clinic.phone = "+1 555 0123"
    world.clinic.save(update_fields=["phone"])

    response = post_report(client, world.alice_user, world.alice, text=CHEST)

    assert response.status_code == 302
    text = get_text(client, world.alice_user, response["Location"])
    assert by_testid(text, "advice-headline") == STOP_HEADLINE
    call = by_testid(text, "clinic-call")
    assert "Call your clinic, Riverside" in call
    assert '<a class="number" href="tel:+15550123">+1 555 0123</a>' in call
    assert 'data-testid="self-care-tips"' not in text
    assert "Sent to your clinic; not read yet" in by_testid(text, "report-status")


def test_a_stop_and_call_report_names_the_clinic_without_a_phone_when_it_has_none(world, client):
    assert world.clinic.phone == ""

    response = post_report(client, world.alice_user, world.alice, text=CHEST)

    text = get_text(client, world.alice_user, response["Location"])
    assert by_testid(text, "clinic-call") == "Call your clinic, Riverside."
    assert 'href="tel:' not in by_testid(text, "advice")


def test_thoughts_of_suicide_show_the_emergency_and_crisis_numbers_before_the_headline(
    world, client
):
    response = post_report(
        client, world.bob_user, world.bob, text="honestly i dont want to be alive anymore"
    )

    text = get_text(client, world.bob_user, response["Location"])
    urgent = by_testid(text, "urgent-calls")
    assert ">911</a>" in urgent and ">988</a>" in urgent
    assert text.index('data-testid="urgent-calls"') < text.index('data-testid="advice-headline"')


def test_an_empty_report_is_refused_with_the_message_and_nothing_is_stored(world, client):
    response = post_report(client, world.alice_user, world.alice, text="   ")

    assert response.status_code == 400
    text = page_text(response)
    assert by_testid(text, "error-text") == (
        "Write how you feel, or tick at least one symptom on the list."
    )
    assert 'data-testid="report-form"' in text
    assert not SymptomReport.objects.exists()


def test_an_unknown_checklist_item_is_refused_keeping_what_was_typed(world, client):
    response = post_report(
        client, world.alice_user, world.alice, text=LIPS, symptoms=["dry_mouth", "bogus"]
    )

    assert response.status_code == 400
    text = page_text(response)
    assert "unknown checklist item &#x27;bogus&#x27;; allowed: dry_lips, dry_mouth" in text
    assert f">{LIPS}</textarea>" in text
    assert 'value="dry_mouth" checked' in text
    assert "<details open>" in text
    assert not SymptomReport.objects.exists()


# --- The clinic reviews the report --------------------------------------------------------------


def test_the_staff_page_highlights_the_evidence_and_escapes_what_the_patient_wrote(world, client):
    report = submit(world, f"{SCRIPT} {CHEST}")

    text = get_text(client, world.staff, reverse("report_detail", args=[report.pk]))

    assert SCRIPT not in text
    assert "<script>alert" not in text
    body = by_testid(text, "report-text")
    assert body == (
        '&lt;script&gt;alert(1)&lt;/script&gt; <mark title="chest_pain">chest pain</mark>'
        " this morning"
    )
    assert by_testid(text, "report-level") == "stop and call"
    assert "<td>chest_pain</td><td>stop_and_call</td><td><mark>chest pain</mark></td>" in text


def test_html_inside_the_evidence_is_escaped_inside_the_mark(world, client):
    report = submit(world, "chest <img src=x onerror=alert(1)> pain today")

    text = get_text(client, world.prescriber, reverse("report_detail", args=[report.pk]))

    assert "<img" not in text
    assert (
        '<mark title="chest_pain">chest &lt;img src=x onerror=alert(1)&gt; pain</mark> today'
        in by_testid(text, "report-text")
    )


def test_what_the_patient_wrote_is_escaped_on_every_page_that_shows_it(world, client):
    report = submit(world, f"{SCRIPT} {CHEST}")

    pages = [
        get_text(client, world.alice_user, reverse("report_detail", args=[report.pk])),
        get_text(client, world.alice_user, reverse("home")),
        get_text(client, world.prescriber, reverse("home")),
        get_text(client, world.prescriber, reverse("patient_detail", args=[world.alice.pk])),
    ]

    for text in pages:
        assert "<script>alert" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_staff_acknowledge_then_resolve_and_the_patient_sees_the_note(world, client):
    report = submit(world, CHEST)
    url = reverse("report_detail", args=[report.pk])
    client.force_login(world.prescriber)

    acknowledged = client.post(url, {"step": "acknowledge"})
    assert acknowledged.status_code == 302 and acknowledged["Location"] == url
    report.refresh_from_db()
    assert (report.review_state, report.acknowledged_by) == ("acknowledged", world.prescriber)
    followed = page_text(client.get(url))
    assert "Report acknowledged; the patient can see it was seen." in followed
    assert "Acknowledge: the clinic has seen it" not in followed  # only once

    patient_page = get_text(client, world.alice_user, url)
    assert "Seen by your clinic (prescriber) on" in by_testid(patient_page, "report-status")

    client.force_login(world.staff)
    refused = client.post(url, {"step": "resolve", "note": "   "})
    assert refused.status_code == 400
    assert by_testid(page_text(refused), "error-note") == (
        "Say what was done before resolving the report."
    )
    report.refresh_from_db()
    assert report.review_state == "acknowledged" and report.review_note == ""

    note = "Called Alice: stopped the capsules, seen in clinic today."
    resolved = client.post(url, {"step": "resolve", "note": note})
    assert resolved.status_code == 302
    report.refresh_from_db()
    assert (report.review_state, report.reviewed_by, report.review_note) == (
        "resolved",
        world.staff,
        note,
    )
    assert report.acknowledged_by == world.prescriber  # the first to see it stays
    staff_page = page_text(client.get(url))
    assert note in by_testid(staff_page, "resolved")
    assert 'name="step"' not in staff_page

    patient_page = get_text(client, world.alice_user, url)
    status = by_testid(patient_page, "report-status")
    assert "Seen by your clinic (staff) on" in status and note in status
    home = get_text(client, world.alice_user, reverse("home"))
    assert note in by_testid(home, "reports")
    actions = set(
        AuditEvent.objects.filter(object_id=str(report.pk), outcome="allowed").values_list(
            "action", flat=True
        )
    )
    assert {"report_acknowledged", "report_resolved"} <= actions


def test_a_resolved_report_drops_off_the_worklist(world, client):
    report = submit(world, CHEST)
    client.force_login(world.prescriber)
    client.post(reverse("report_detail", args=[report.pk]), {"step": "resolve", "note": "done"})

    assert worklist_rows(get_text(client, world.prescriber, reverse("home"))) == []


def test_resolving_a_report_twice_says_it_was_already_resolved(world, client):
    report = submit(world, CHEST)
    url = reverse("report_detail", args=[report.pk])
    client.force_login(world.prescriber)
    assert client.post(url, {"step": "resolve", "note": "first note"}).status_code == 302

    client.force_login(world.staff)
    again = client.post(url, {"step": "resolve", "note": "second note"})

    assert again.status_code == 400
    report.refresh_from_db()
    assert report.review_note == "first note"
    assert "This report was already resolved on" in page_text(again)


def test_a_patient_cannot_acknowledge_or_resolve_their_own_report(world, client):
    report = submit(world, CHEST)
    url = reverse("report_detail", args=[report.pk])
    client.force_login(world.alice_user)
    before = refusals(world.alice_user)

    assert client.post(url, {"step": "acknowledge"}).status_code == 403
    assert client.post(url, {"step": "resolve", "note": "all fine"}).status_code == 403

    report.refresh_from_db()
    assert report.review_state == "new"
    assert refusals(world.alice_user) == before + 2
    assert 'name="step"' not in get_text(client, world.alice_user, url)


# --- Who may see what ---------------------------------------------------------------------------


@pytest.fixture
def alice_records(world):
    report = submit(world, CHEST)
    assessment, _ = mood_services.mood_record(
        user=world.alice_user, patient_id=world.alice.pk, answers=dict.fromkeys(range(1, 10), 0)
    )
    return {
        "report": reverse("report_detail", args=[report.pk]),
        "report_form": reverse("report_new", args=[world.alice.pk]),
        "mood": reverse("mood_detail", args=[assessment.pk]),
        "mood_form": reverse("mood_new", args=[world.alice.pk]),
    }


@pytest.mark.parametrize(
    ("who", "page"),
    [
        (who, page)
        for who in ("other_prescriber", "pharmacist", "bob_user")
        for page in ("report", "report_form", "mood", "mood_form")
    ],
)
def test_outsiders_are_refused_each_page_and_the_refusal_is_audited(
    world, client, alice_records, who, page
):
    user = getattr(world, who)
    before = refusals(user)
    client.force_login(user)

    assert client.get(alice_records[page]).status_code == 403

    assert refusals(user) == before + 1


@pytest.mark.parametrize("who", ["other_prescriber", "pharmacist", "bob_user"])
def test_outsiders_cannot_post_a_report_or_a_mood_screen_for_alice(world, client, who):
    user = getattr(world, who)
    client.force_login(user)
    before = refusals(user)

    assert (
        client.post(reverse("report_new", args=[world.alice.pk]), {"text": CHEST}).status_code
        == 403
    )
    assert client.post(reverse("mood_new", args=[world.alice.pk]), CALM).status_code == 403

    assert not SymptomReport.objects.exists() and not MoodAssessment.objects.exists()
    assert refusals(user) == before + 2


def test_a_guardian_is_refused_the_mood_form_of_the_child(world, client):
    client.force_login(world.guardian)
    url = reverse("mood_new", args=[world.chloe.pk])
    before = refusals(world.guardian)

    assert client.get(url).status_code == 403
    assert client.post(url, CALM).status_code == 403

    assert not MoodAssessment.objects.exists()
    events = AuditEvent.objects.filter(actor=world.guardian, outcome="refused")
    assert events.count() == before + 2
    assert set(events.values_list("patient_id", flat=True)) == {world.chloe.pk}


def test_a_guardian_may_report_for_the_child_and_read_the_advice(world, client):
    response = post_report(client, world.guardian, world.chloe, text=LIPS)

    assert response.status_code == 302
    text = get_text(client, world.guardian, response["Location"])
    assert by_testid(text, "advice-headline") == SELF_CARE_HEADLINE


# --- Home pages: the clinic's worklist, the patient's questionnaire -----------------------------


def test_the_prescriber_home_lists_the_worklist_most_urgent_first(world, client):
    submit(world, "I have a rash on my arms")  # call today
    submit(world, LIPS)  # self care: not on the worklist
    submit(world, CHEST)  # stop and call
    submit(world, "i dont want to be alive anymore", world.bob_user, world.bob)  # emergency
    submit(world, "chest pain", world.other_prescriber, world.hana)  # another clinic's

    text = get_text(client, world.prescriber, reverse("home"))

    assert 'data-testid="worklist"' in text
    rows = worklist_rows(text)
    assert len(rows) == 3
    assert "emergency" in rows[0] and "Bob Test" in rows[0]
    assert "stop and call" in rows[1] and "Alice Test" in rows[1]
    assert "call today" in rows[2] and "rash on my arms" in rows[2]
    assert "Hana" not in by_testid(text, "worklist")
    assert worklist_rows(get_text(client, world.staff, reverse("home"))) == rows


def test_a_patient_home_has_no_worklist_but_their_own_reports(world, client):
    submit(world, CHEST)
    submit(world, "i dont want to be alive anymore", world.bob_user, world.bob)

    text = get_text(client, world.alice_user, reverse("home"))

    assert 'data-testid="worklist"' not in text and "worklist-row" not in text
    assert 'data-testid="report-form"' in text
    reports = by_testid(text, "reports")
    assert "Your reports" in reports and CHEST in reports
    assert "alive" not in text


# --- The mood questionnaire ---------------------------------------------------------------------


def mood_post(client, user, patient, data):
    client.force_login(user)
    return client.post(reverse("mood_new", args=[patient.pk]), data)


def test_the_mood_form_shows_nine_items_with_four_answers_each(world, client):
    text = get_text(client, world.alice_user, reverse("mood_new", args=[world.alice.pk]))

    assert len(re.findall(r'<fieldset class="mood-item"', text)) == 9
    for item in range(1, 10):
        assert len(re.findall(rf'type="radio" name="item_{item}" value="[0-3]"', text)) == 4
    assert "PHQ-9" in text
    assert 'name="extra_' not in text  # the PHQ-A questions are for adolescents


def test_a_calm_screen_is_saved_and_says_so(world, client):
    response = mood_post(client, world.alice_user, world.alice, CALM)

    assessment = MoodAssessment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("mood_detail", args=[assessment.pk])
    assert (assessment.score, assessment.item9, assessment.recorded_by) == (0, 0, world.alice_user)
    text = get_text(client, world.alice_user, response["Location"])
    assert "Your answers are saved" in by_testid(text, "mood-message")
    assert 'data-testid="urgent-calls"' not in text
    assert not SymptomReport.objects.exists()


def test_a_positive_item_9_shows_the_crisis_numbers_first_and_tops_the_worklist(world, client):
    submit(world, CHEST)  # stop and call, sent before
    response = mood_post(client, world.alice_user, world.alice, {**CALM, "item_9": "1"})

    assert response.status_code == 302
    text = get_text(client, world.alice_user, response["Location"])
    urgent = by_testid(text, "urgent-calls")
    assert '<a class="number" href="tel:911">911</a>' in urgent
    assert '<a class="number" href="tel:988">988</a>' in urgent
    assert text.index('data-testid="urgent-calls"') < text.index("<h1>")
    assert "Your clinic has been told straight away" in by_testid(text, "mood-message")

    home = get_text(client, world.prescriber, reverse("home"))
    top = worklist_rows(home)[0]
    assert "Alice Test" in top and "emergency" in top and "Mood screen phq9: score 1" in top
    report = SymptomReport.objects.get(mood_assessment__isnull=False)
    assert reverse("report_detail", args=[report.pk]) in top

    clinic_view = get_text(client, world.prescriber, response["Location"])
    assert by_testid(clinic_view, "mood-crisis").startswith("The patient reported thoughts")
    assert 'data-testid="urgent-calls"' not in clinic_view  # the crisis box is for the patient


def test_a_moderate_score_goes_on_the_worklist_at_call_today(world, client):
    answers = {**CALM, "item_1": "3", "item_2": "3", "item_3": "2", "item_4": "2"}  # total 10
    response = mood_post(client, world.alice_user, world.alice, answers)

    text = get_text(client, world.alice_user, response["Location"])
    assert "Your clinic will look at your answers today" in by_testid(text, "mood-message")
    assert 'data-testid="urgent-calls"' not in text
    assert "call today" in worklist_rows(get_text(client, world.staff, reverse("home")))[0]


def test_a_missing_answer_is_refused_naming_the_item_and_keeping_the_others(world, client):
    data = {**CALM, "item_2": "1", "item_7": "3"}
    del data["item_5"]

    response = mood_post(client, world.alice_user, world.alice, data)

    assert response.status_code == 400
    text = page_text(response)
    fieldsets = dict(
        re.findall(r'<fieldset class="mood-item" data-item="(\d)">(.*?)</fieldset>', text, re.S)
    )
    assert "missing; all 9 items must be answered" in fieldsets["5"]
    assert 'class="error"' not in "".join(v for k, v in fieldsets.items() if k != "5")
    assert "checked" not in fieldsets["5"]
    assert 'name="item_2" value="1" required checked' in fieldsets["2"]
    assert 'name="item_7" value="3" required checked' in fieldsets["7"]
    for item in ("1", "3", "4", "6", "8", "9"):
        assert f'name="item_{item}" value="0" required checked' in fieldsets[item]
    assert text.count(" checked>") == 8
    assert not MoodAssessment.objects.exists()


def test_an_answer_out_of_range_is_refused_on_its_item(world, client):
    response = mood_post(client, world.alice_user, world.alice, {**CALM, "item_4": "7"})

    assert response.status_code == 400
    assert "expected 0, 1, 2 or 3, got 7" in page_text(response)
    assert not MoodAssessment.objects.exists()


def test_a_teenager_gets_the_phq_a_and_a_yes_to_a_suicide_question_is_a_crisis(world, client):
    make_course(world.chloe, world.prescriber)
    form = get_text(client, world.prescriber, reverse("mood_new", args=[world.chloe.pk]))
    assert "PHQ-A" in form
    extras = re.findall(r'name="(extra_\w+)" value="yes"', form)
    assert extras == ["extra_suicidal_thoughts_past_month", "extra_suicide_attempt_ever"]

    data = {**CALM, extras[0]: "no", extras[1]: "yes"}
    response = mood_post(client, world.prescriber, world.chloe, data)

    assert response.status_code == 302
    assessment = MoodAssessment.objects.get()
    assert (assessment.tool, assessment.score) == ("phq_a", 0)
    text = get_text(client, world.prescriber, response["Location"])
    assert 'data-testid="mood-crisis"' in text
    top = worklist_rows(get_text(client, world.prescriber, reverse("home")))[0]
    assert "Chloe Test" in top and "emergency" in top


def test_a_refused_phq_a_keeps_the_yes_no_answers_too(world, client):
    make_course(world.chloe, world.prescriber)
    data = {
        **CALM,
        "extra_suicidal_thoughts_past_month": "no",
        "extra_suicide_attempt_ever": "no",
    }
    del data["item_5"]

    response = mood_post(client, world.prescriber, world.chloe, data)

    assert response.status_code == 400
    text = page_text(response)
    assert text.count(" checked>") == 8 + 2
    assert 'name="extra_suicide_attempt_ever" value="no" checked' in text


def test_the_patient_home_asks_for_the_questionnaire_until_one_is_answered(world, client):
    home = reverse("home")
    text = get_text(client, world.alice_user, home)
    due = by_testid(text, "mood-due")
    assert f'href="{reverse("mood_new", args=[world.alice.pk])}"' in due

    mood_post(client, world.alice_user, world.alice, CALM)

    assert 'data-testid="mood-due"' not in get_text(client, world.alice_user, home)


def test_a_patient_without_a_course_is_not_asked_for_the_questionnaire(world, client):
    assert 'data-testid="mood-due"' not in get_text(client, world.bob_user, reverse("home"))


def test_an_unknown_step_acknowledges_nothing(world, client):
    report = submit(world, CHEST)
    url = reverse("report_detail", args=[report.pk])
    client.force_login(world.prescriber)
    response = client.post(url, {"step": "nonsense"})
    assert response.status_code == 400
    assert "expected acknowledge or resolve" in page_text(response)
    report.refresh_from_db()
    assert report.review_state != "acknowledged"
