"""Object-level access: each role sees exactly the records it should, and refusals are audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from isoguard.audit.models import AuditEvent
from isoguard.patients.access import patients_visible_to
from tests.conftest import page_text

# (viewer, patient, may see?) — every role on both sides of its rule.
CASES = [
    ("prescriber", "alice", True),
    ("prescriber", "chloe", True),
    ("prescriber", "hana", False),  # another clinic's patient
    ("staff", "bob", True),
    ("staff", "hana", False),
    ("other_prescriber", "alice", False),
    ("other_prescriber", "hana", True),
    ("pharmacist", "alice", True),  # her prescription was presented at Main Street
    ("pharmacist", "bob", False),  # same clinic, but no prescription presented here
    ("pharmacist", "hana", False),  # prescription presented at another pharmacy
    ("other_pharmacist", "hana", True),
    ("other_pharmacist", "alice", False),
    ("alice_user", "alice", True),
    ("alice_user", "bob", False),  # another patient of the same clinic
    ("alice_user", "hana", False),
    ("bob_user", "alice", False),
    ("guardian", "chloe", True),
    ("guardian", "alice", False),
    ("former_guardian", "chloe", False),  # the guardianship has ended
    ("admin", "alice", False),  # administrators manage accounts, not clinical records
    ("admin", "hana", False),
]


@pytest.mark.parametrize(("viewer", "patient", "allowed"), CASES)
def test_each_role_sees_only_the_records_its_rule_allows(world, client, viewer, patient, allowed):
    user, target = getattr(world, viewer), getattr(world, patient)
    client.force_login(user)

    response = client.get(reverse("patient_detail", args=[target.pk]))

    assert response.status_code == (200 if allowed else 403)
    event = AuditEvent.objects.filter(actor=user, action="view", object_id=str(target.pk)).get()
    assert event.outcome == ("allowed" if allowed else "refused")
    assert event.patient_id == target.pk
    # The record's heading, not a bare name (which a random CSRF token can contain).
    heading = f'<h1 data-testid="patient-name">{target.full_name}</h1>'
    assert (heading in response.content.decode()) is allowed


@pytest.mark.parametrize(("viewer", "patient", "allowed"), CASES)
def test_the_selector_agrees_with_the_page(world, viewer, patient, allowed):
    visible = patients_visible_to(getattr(world, viewer))
    assert visible.filter(pk=getattr(world, patient).pk).exists() is allowed


def test_a_refused_request_for_a_record_that_does_not_exist_is_audited_too(world, client):
    client.force_login(world.alice_user)

    response = client.get(reverse("patient_detail", args=[999_999]))

    assert response.status_code == 403
    event = AuditEvent.objects.get(object_id="999999")
    assert event.outcome == "refused" and event.patient_id is None


def test_a_visitor_who_is_not_logged_in_is_sent_to_the_login_page(world, client):
    response = client.get(reverse("patient_detail", args=[world.alice.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_deactivated_account_sees_nothing(world):
    world.prescriber.is_active = False
    assert not patients_visible_to(world.prescriber).exists()


def test_the_refusal_page_says_why_and_what_to_do(world, client):
    client.force_login(world.pharmacist)

    response = client.get(reverse("patient_detail", args=[world.bob.pk]))

    text = response.content.decode()
    assert "You may not see this" in text
    assert "ask the patient's clinic" in text


def test_a_pharmacist_sees_only_prescriptions_presented_at_their_pharmacy(world, client):
    from tests.conftest import make_course, make_prescription

    # Alice starts a second course whose prescription goes to another pharmacy.
    world.alice.courses.update(status="completed")
    second = make_course(world.alice, world.prescriber, number=2, product="absorica")
    make_prescription(second, world.prescriber, world.other_pharmacy)
    client.force_login(world.pharmacist)

    text = page_text(client.get(reverse("patient_detail", args=[world.alice.pk])))

    assert "claravis" in text
    assert "absorica" not in text
    assert "61.5" not in text  # the weight is the clinic's business, not the pharmacy's


def test_the_one_row_rule_agrees_with_the_pharmacys_queryset_in_every_case(world):
    """pharmacy_sees (a row in hand, for the pharmacy's requests) and pharmacy_prescriptions (a
    queryset, for lists and patient access) are one rule: live or cancelled, filled here,
    elsewhere or not at all, presented here, elsewhere or nowhere."""
    from django.utils import timezone

    from isoguard.courses.models import Dispense, Prescription
    from isoguard.courses.programme_services import _prescription_read
    from isoguard.patients.access import pharmacy_prescriptions, pharmacy_sees
    from tests.conftest import make_course, make_prescription

    pharmacies = [world.pharmacy, world.other_pharmacy]
    course = make_course(world.bob, world.prescriber, number=1)
    cases = 0
    for presented in [*pharmacies, None]:
        for cancelled in (False, True):
            for filled in [*pharmacies, None]:
                when = timezone.now() if cancelled else None
                rx = make_prescription(course, world.prescriber, presented, cancelled_at=when)
                if filled is not None:
                    Dispense.objects.create(
                        prescription=rx, dispensed_on=rx.written_on, days_supply=30,
                        quantity=30, pharmacist=world.pharmacist, pharmacy=filled,
                    )  # fmt: skip
                read = _prescription_read(rx.pk)
                assert read is not None
                loaded, filled_at = read
                assert loaded.course.patient.pk == world.bob.pk  # loaded with its course
                assert filled_at == (filled.pk if filled else None)
                for pharmacy in pharmacies:
                    in_queryset = pharmacy_prescriptions(pharmacy.pk).filter(pk=rx.pk).exists()
                    assert pharmacy_sees(pharmacy.pk, loaded, filled_at) == in_queryset
                    cases += in_queryset
    assert cases >= 4  # both answers were seen
    assert _prescription_read(Prescription.objects.order_by("-pk").first().pk + 1) is None
