"""Side-effect reports: stored before triage, never lost, reviewed by the clinic, all audited."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from isoguard.audit.models import AuditEvent
from isoguard.courses import report_services as services
from isoguard.courses.models import SymptomReport

STOMACH = "can't keep any food down since yesterday and my stomach is killing me"


def submit(world, text=STOMACH, ticked=(), user=None, patient=None):
    return services.report_submit(
        user=user or world.alice_user,
        patient_id=(patient or world.alice).pk,
        text=text,
        ticked=list(ticked),
    )


def test_a_report_is_stored_with_its_triage_and_evidence(world):
    report = submit(world)
    report.refresh_from_db()
    assert report.triage_state == "triaged"
    assert report.triage_level == "stop_and_call"
    assert report.priority == 4
    assert {c["id"]: c["evidence"] for c in report.concepts} == {
        "severe_abdominal_pain": "stomach is killing me",
        "severe_vomiting": "cant keep any food down",
    }
    assert report.course is not None  # Alice's active course
    actions = set(
        AuditEvent.objects.filter(object_id=str(report.pk)).values_list("action", flat=True)
    )
    assert {"create", "triage"} <= actions


def test_ticked_symptoms_count_at_their_level(world):
    report = submit(world, text="", ticked=["dry_mouth", "chest_pain"])
    assert report.triage_level == "stop_and_call"
    assert {c["id"] for c in report.concepts} == {"dry_mouth", "chest_pain"}
    assert report.checklist == ["dry_mouth", "chest_pain"]


@pytest.mark.parametrize(
    ("text", "ticked", "field"),
    [
        ("   ", [], "text"),
        ("x" * 5001, [], "text"),
        ("dry lips", ["not_a_symptom"], "symptoms"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(world, text, ticked, field):
    with pytest.raises(ValidationError) as error:
        submit(world, text=text, ticked=ticked)
    assert field in error.value.message_dict
    assert not SymptomReport.objects.exists()


def test_a_failing_triage_keeps_the_report_for_review_by_hand(world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(services, "triage", broken)
    report = submit(world, text="my chest hurts")
    report.refresh_from_db()
    assert report.text == "my chest hurts"
    assert report.triage_state == "needs_manual_review"
    assert "model exploded" in report.triage_error
    assert services.worklist(world.prescriber).first() == report
    advice = services.report_advice(report)
    assert [c.kind for c in advice.calls] == ["emergency", "crisis", "clinic"]  # US: 911, 988


def test_the_worklist_holds_call_today_and_above_most_urgent_first(world):
    mild = submit(world, text="lips a bit dry")
    today = submit(world, text="my back hurts a lot since last week")
    stop = submit(world)
    emergency = submit(world, text="my face and tongue are swelling up")
    assert (mild.triage_level, today.triage_level) == ("self_care", "call_today")
    assert list(services.worklist(world.prescriber)) == [emergency, stop, today]
    assert list(services.worklist(world.staff)) == [emergency, stop, today]
    assert list(services.worklist(world.other_prescriber)) == []
    assert list(services.worklist(world.pharmacist)) == []


def test_acknowledge_then_resolve_with_a_note(world):
    report = submit(world)
    services.report_acknowledge(user=world.staff, report_id=report.pk)
    report.refresh_from_db()
    assert report.review_state == "acknowledged"
    assert report.acknowledged_by == world.staff
    assert report in services.worklist(world.prescriber)
    with pytest.raises(ValidationError) as error:
        services.report_resolve(user=world.prescriber, report_id=report.pk, note=" ")
    assert "note" in error.value.message_dict
    services.report_resolve(
        user=world.prescriber, report_id=report.pk, note="Called her: stopped, seen today."
    )
    report.refresh_from_db()
    assert (report.review_state, report.reviewed_by) == ("resolved", world.prescriber)
    assert report.acknowledged_by == world.staff  # the first to see it stays recorded
    assert report not in services.worklist(world.prescriber)
    with pytest.raises(ValidationError) as error:
        services.report_resolve(user=world.prescriber, report_id=report.pk, note="again")
    assert "review_state" in error.value.message_dict


def test_only_the_clinic_reviews_and_only_who_may_see_the_patient_reports(world):
    report = submit(world)
    for outsider in (world.alice_user, world.other_prescriber, world.pharmacist):
        with pytest.raises(PermissionDenied):
            services.report_acknowledge(user=outsider, report_id=report.pk)
    with pytest.raises(PermissionDenied):
        submit(world, user=world.bob_user)  # Bob may not report for Alice
    with pytest.raises(PermissionDenied):
        services.report_for(world.pharmacist, report.pk)
    refused = AuditEvent.objects.filter(outcome="refused").count()
    assert refused >= 5
    # A guardian reports for the child they care for; the parent's own words do not count.
    child = submit(world, user=world.guardian, patient=world.chloe, text="my daughter has a rash")
    assert child.triage_level == "call_today"


def test_advice_by_level(world):
    world.clinic.phone = "555-0100"
    world.clinic.save()
    dry = services.report_advice(submit(world, text="my mouth is so dry"))
    assert dry.level == "self_care"
    assert any("sugarless" in tip for tip in dry.tips)
    assert dry.calls == ()
    stop = services.report_advice(submit(world))
    assert [(c.kind, c.number) for c in stop.calls] == [("clinic", "555-0100")]
    assert "Stop taking" in stop.headline
    crisis = services.report_advice(submit(world, text="i want to kill myself"))
    numbers = [c.number for c in crisis.calls]
    assert numbers[:2] == ["911", "988"]
    assert crisis.urgent
    world.alice.country = "GB"
    world.alice.jurisdiction = "UK"
    world.alice.save()
    uk = services.report_advice(SymptomReport.objects.get(pk=submit(world, "i want to die").pk))
    assert [c.number for c in uk.calls][:2] == ["999", "116 123"]


@pytest.mark.django_db(transaction=True)
def test_two_staff_resolving_at_once_resolve_it_once(world):
    report = submit(world)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def resolve(user):
        try:
            start.wait()
            services.report_resolve(user=user, report_id=report.pk, note=f"by {user.username}")
            outcomes.append("resolved")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=resolve, args=(u,)) for u in (world.staff, world.prescriber)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "resolved"]
    assert (
        AuditEvent.objects.filter(
            action="report_resolved", object_type="courses.symptomreport", object_id=str(report.pk)
        ).count()
        == 1
    )


def test_words_the_triage_recognises_nothing_in_are_read_by_hand_today(world):
    report = submit(world, text="something feels really off with me, hard to explain")
    assert (report.triage_state, report.triage_level) == ("triaged", "none")
    assert report in services.worklist(world.prescriber)
    advice = services.report_advice(report)
    assert advice.level == "unknown"
    assert "read it today" in advice.headline
    assert [c.number for c in advice.calls] == ["911", "988", ""]  # the clinic has no phone
    # Words beside a tick are read too: the tick does not hide them.
    beside = submit(world, text="i cant stop shaking", ticked=["dry_lips"])
    assert beside.triage_level == "self_care"
    assert beside in services.worklist(world.prescriber)
    assert services.report_advice(beside).level == "unknown"
    ticked_nothing_text = submit(world, text="", ticked=["dry_mouth"])
    assert ticked_nothing_text not in services.worklist(world.prescriber)
