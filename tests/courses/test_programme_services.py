"""The pharmacy: the engine authorises or refuses with reasons, and a fill is recorded once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.audit.models import AuditEvent
from isoguard.courses.models import Dispense, PregnancyTest, Prescription, ProgrammeDecision
from isoguard.courses.programme_services import (
    authorisation_reverse,
    dispense_authorisation,
    dispense_record,
    medication_guide_record,
)
from isoguard.demo import create_demo


@pytest.fixture
def fatima_rx(db):
    """Fatima's waiting prescription: her window closes today; no Medication Guide yet."""
    create_demo(timezone.localdate())
    return Prescription.objects.get(course__patient__given_name="Fatima", dispense__isnull=True)


def pharmacist():
    return User.objects.get(username="pharm.chen")


def test_a_missing_medication_guide_refuses_with_the_reason_then_the_fill_is_authorised(fatima_rx):
    refused = dispense_authorisation(user=pharmacist(), prescription_id=fatima_rx.pk)
    assert not refused.allowed
    assert [f["rule"] for f in refused.unmet] == ["medication_guide"]

    medication_guide_record(user=pharmacist(), prescription_id=fatima_rx.pk)
    authorised = dispense_authorisation(user=pharmacist(), prescription_id=fatima_rx.pk)
    assert authorised.allowed and authorised.dispense_by == timezone.localdate()
    assert ProgrammeDecision.objects.count() == 2  # every decision is kept
    assert AuditEvent.objects.filter(action="authorise_dispense", outcome="refused").exists()


def test_the_fill_is_recorded_once(fatima_rx):
    medication_guide_record(user=pharmacist(), prescription_id=fatima_rx.pk)
    dispense = dispense_record(
        user=pharmacist(),
        prescription_id=fatima_rx.pk,
        quantity=60,
        days_supply=30,
        rma_number="RMA-1",
    )
    assert dispense.pharmacy_id == fatima_rx.pharmacy_id
    with pytest.raises(ValidationError, match="already been dispensed"):
        dispense_record(
            user=pharmacist(), prescription_id=fatima_rx.pk, quantity=60, days_supply=30
        )
    assert Dispense.objects.filter(prescription=fatima_rx).count() == 1


def test_day_8_of_the_window_is_refused_and_nothing_is_recorded(fatima_rx):
    medication_guide_record(user=pharmacist(), prescription_id=fatima_rx.pk)
    test = (
        PregnancyTest.objects.filter(patient=fatima_rx.course.patient)
        .order_by("-specimen_date")
        .first()
    )
    PregnancyTest.objects.filter(pk=test.pk).update(
        specimen_date=test.specimen_date - dt.timedelta(days=1)
    )
    decision = dispense_authorisation(user=pharmacist(), prescription_id=fatima_rx.pk)
    assert [f["rule"] for f in decision.unmet] == ["pregnancy_test.window"]
    with pytest.raises(ValidationError, match="A new negative test is needed"):
        dispense_record(
            user=pharmacist(), prescription_id=fatima_rx.pk, quantity=60, days_supply=30
        )
    assert not Dispense.objects.filter(prescription=fatima_rx).exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"quantity": 61, "days_supply": 30}, "quantity"),
        ({"quantity": 60, "days_supply": 31}, "days_supply"),
        (
            {
                "quantity": 60,
                "days_supply": 30,
                "external_do_not_dispense_after": dt.date(2020, 1, 1),
            },
            "external_do_not_dispense_after",
        ),
    ],
)
def test_a_bad_quantity_or_a_passed_ipledge_date_is_refused_naming_the_field(
    fatima_rx, fields, field
):
    medication_guide_record(user=pharmacist(), prescription_id=fatima_rx.pk)
    with pytest.raises(ValidationError) as caught:
        dispense_record(user=pharmacist(), prescription_id=fatima_rx.pk, **fields)
    assert field in caught.value.message_dict
    assert not Dispense.objects.exists() or not Dispense.objects.filter(prescription=fatima_rx)


def test_a_different_ipledge_date_is_flagged_in_the_audit(fatima_rx):
    medication_guide_record(user=pharmacist(), prescription_id=fatima_rx.pk)
    later = timezone.localdate() + dt.timedelta(days=2)
    dispense_record(
        user=pharmacist(),
        prescription_id=fatima_rx.pk,
        quantity=60,
        days_supply=30,
        rma_number="RMA-2",
        external_do_not_dispense_after=later,
    )
    event = AuditEvent.objects.get(action="create", object_type="courses.dispense")
    assert event.detail["dates_differ"] is True


def test_a_pharmacist_of_another_pharmacy_is_refused_and_audited(fatima_rx):
    from isoguard.accounts.models import Organisation

    other = Organisation.objects.create(name="Elsewhere", kind="pharmacy", jurisdiction="US")
    stranger = User.objects.create(username="stranger", role="pharmacist", organisation=other)
    with pytest.raises(PermissionDenied):
        dispense_record(user=stranger, prescription_id=fatima_rx.pk, quantity=60, days_supply=30)
    assert AuditEvent.objects.filter(actor=stranger, outcome="refused").exists()


def test_a_deactivated_pharmacist_of_the_right_pharmacy_is_refused_and_nothing_is_decided(
    fatima_rx,
):
    """The pharmacy's one-read access path needs an active account, as patient_for does."""
    gone = pharmacist()
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    with pytest.raises(PermissionDenied):
        dispense_authorisation(user=gone, prescription_id=fatima_rx.pk)
    assert not ProgrammeDecision.objects.filter(prescription=fatima_rx).exists()
    assert AuditEvent.objects.filter(actor=gone, outcome="refused").exists()


def test_an_authorisation_not_picked_up_can_be_reversed_once(fatima_rx):
    medication_guide_record(user=pharmacist(), prescription_id=fatima_rx.pk)
    decision = dispense_authorisation(user=pharmacist(), prescription_id=fatima_rx.pk)
    reversed_ = authorisation_reverse(user=pharmacist(), decision_id=decision.pk)
    assert reversed_.reversed_at is not None
    with pytest.raises(ValidationError, match="standing authorisation"):
        authorisation_reverse(user=pharmacist(), decision_id=decision.pk)


@pytest.mark.django_db(transaction=True)
def test_twenty_pharmacists_pressing_at_once_record_exactly_one_dispense():
    create_demo(timezone.localdate())
    rx = Prescription.objects.get(course__patient__given_name="Fatima", dispense__isnull=True)
    medication_guide_record(user=pharmacist(), prescription_id=rx.pk)
    user = pharmacist()
    start = threading.Barrier(20)
    outcomes: list[str] = []

    def press() -> None:
        try:
            start.wait()
            dispense_record(user=user, prescription_id=rx.pk, quantity=60, days_supply=30)
            outcomes.append("recorded")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["recorded"] + ["refused"] * 19
    assert Dispense.objects.filter(prescription=rx).count() == 1


def test_a_cancelled_prescription_is_never_authorised_or_filled(fatima_rx, client):
    """The engine decides on the course's newest live prescription; a cancelled one, replaced
    by a new one, must not borrow that decision."""
    from isoguard.courses.models import Prescription

    medication_guide_record(user=pharmacist(), prescription_id=fatima_rx.pk)
    replacement = Prescription.objects.create(
        course=fatima_rx.course, prescriber=fatima_rx.prescriber, pharmacy=fatima_rx.pharmacy,
        written_on=fatima_rx.written_on, days_supply=30, refills=0, daily_dose_mg=60, quantity=60,
    )  # fmt: skip
    fatima_rx.cancelled_at = timezone.now()
    fatima_rx.save()
    with pytest.raises(ValidationError, match="cancelled"):
        dispense_authorisation(user=pharmacist(), prescription_id=fatima_rx.pk)
    with pytest.raises(ValidationError, match="cancelled"):
        dispense_record(user=pharmacist(), prescription_id=fatima_rx.pk, quantity=60,
                        days_supply=30)  # fmt: skip
    assert not Dispense.objects.filter(prescription=fatima_rx).exists()
    client.force_login(pharmacist())
    page = client.get(f"/pharmacy/prescriptions/{fatima_rx.pk}/")
    assert page.status_code == 200 and "cancelled" in page.content.decode()
    assert replacement.pk != fatima_rx.pk


def test_an_authorisation_is_one_audit_event_naming_the_patient_and_the_decision(fatima_rx):
    before = AuditEvent.objects.count()
    decision = dispense_authorisation(user=pharmacist(), prescription_id=fatima_rx.pk)
    (event,) = AuditEvent.objects.order_by("-seq")[: AuditEvent.objects.count() - before]
    assert (event.action, event.actor, event.patient_id) == (
        "authorise_dispense",
        pharmacist(),
        fatima_rx.course.patient_id,
    )
    assert event.object_id == str(decision.pk) and event.outcome == "refused"  # no guide yet
    # A cancelled prescription is refused, and the refusal audited in place of the access.
    Prescription.objects.filter(pk=fatima_rx.pk).update(cancelled_at=timezone.now())
    with pytest.raises(ValidationError, match="cancelled"):
        dispense_authorisation(user=pharmacist(), prescription_id=fatima_rx.pk)
    refusal = AuditEvent.objects.order_by("-seq").first()
    assert (refusal.action, refusal.outcome, refusal.object_id) == (
        "authorise_dispense",
        "refused",
        str(fatima_rx.pk),
    )
    assert "cancelled" in refusal.reason


def test_an_authorisation_that_fails_half_way_still_audits_the_access(fatima_rx, monkeypatch):
    from isoguard.courses import programme_services

    def broken(*args, **kwargs):
        raise RuntimeError("the engine could not read the record")

    monkeypatch.setattr(programme_services, "engine_decision", broken)
    with pytest.raises(RuntimeError):
        dispense_authorisation(user=pharmacist(), prescription_id=fatima_rx.pk)
    event = AuditEvent.objects.order_by("-seq").first()
    assert (event.action, event.outcome, event.patient_id) == (
        "authorise_dispense",
        "refused",
        fatima_rx.course.patient_id,
    )
    assert event.reason == "no decision: RuntimeError"
    assert not ProgrammeDecision.objects.exists()
