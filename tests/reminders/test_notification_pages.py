"""The reminders pages: a patient's notifications and choices, a guardian's, nobody else's."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import include, path, reverse

from isoguard import urls as root_urls
from isoguard.audit.models import AuditEvent
from isoguard.reminders.models import ContactPreference, Notification
from tests.conftest import page_text

# The project's urls with the reminders pages, whether or not urls.py includes them yet.
urlpatterns = list(root_urls.urlpatterns)
if not any(getattr(p, "namespace", None) == "reminders" for p in urlpatterns):
    urlpatterns.append(path("notifications/", include("isoguard.reminders.urls")))
pytestmark = pytest.mark.urls(__name__)

CHOICES = {
    "in_app": "on",
    "by_email": "on",
    "quiet_start": "21:30",
    "quiet_end": "06:45",
    "dose_reminders": "on",
    "morning_time": "07:15",
    "evening_time": "19:45",
}


def notify(patient, title="Time for your morning dose", **fields) -> Notification:
    return Notification.objects.create(patient=patient, kind="dose", title=title,
                                       body="Tick it in your dose diary.", **fields)  # fmt: skip


def page(patient) -> str:
    return reverse("reminders:notifications", args=[patient.pk])


def refusals(user) -> int:
    return AuditEvent.objects.filter(actor=user, outcome=AuditEvent.Outcome.REFUSED).count()


def test_a_patient_sees_their_own_notifications_newest_first_and_marks_them_read(world, client):
    old = notify(world.alice, "Your mood questionnaire is due")
    Notification.objects.filter(pk=old.pk).update(created_at=old.created_at - dt.timedelta(days=1))
    new = notify(world.alice)
    notify(world.bob, "Bob's own")
    client.force_login(world.alice_user)
    text = page_text(client.get(page(world.alice)))
    assert text.index("Time for your morning dose") < text.index("Your mood questionnaire is due")
    assert "Bob's own" not in text
    assert 'data-testid="unread-count">2 unread' in text

    client.post(reverse("reminders:read", args=[world.alice.pk]), {"notification": new.pk})
    new.refresh_from_db()
    old.refresh_from_db()
    assert new.read_at is not None and old.read_at is None
    response = client.post(reverse("reminders:read", args=[world.alice.pk]), follow=True)
    assert "1 marked as read." in page_text(response)
    assert not Notification.objects.filter(patient=world.alice, read_at__isnull=True).exists()
    updates = AuditEvent.objects.filter(actor=world.alice_user, action="update",
                                        object_type="reminders.notification")  # fmt: skip
    assert [e.detail["read"] for e in updates.order_by("pk")] == [[new.pk], [old.pk]]
    assert AuditEvent.objects.filter(actor=world.alice_user, action="view_notifications",
                                     patient_id=world.alice.pk).exists()  # fmt: skip


def test_a_patient_cannot_see_or_mark_another_patients_notifications(world, client):
    hers = notify(world.alice)
    client.force_login(world.bob_user)
    assert client.get(page(world.alice)).status_code == 403
    assert client.post(reverse("reminders:read", args=[world.alice.pk])).status_code == 403
    # Through his own page, her notification's id is refused too.
    response = client.post(
        reverse("reminders:read", args=[world.bob.pk]), {"notification": hers.pk}
    )
    assert response.status_code == 403
    hers.refresh_from_db()
    assert hers.read_at is None and refusals(world.bob_user) == 3


def test_a_guardian_sees_the_childs_list_and_a_former_guardian_or_the_clinic_do_not(world, client):
    notify(world.chloe, "Pregnancy test due today")
    client.force_login(world.guardian)
    response = client.get(reverse("reminders:home"))
    assert response["Location"] == page(world.chloe)
    text = page_text(client.get(page(world.chloe)))
    assert "Reminders for Chloe Test" in text and "Pregnancy test due today" in text
    for someone in (world.former_guardian, world.prescriber, world.pharmacist):
        client.force_login(someone)
        assert client.get(page(world.chloe)).status_code == 403
        assert refusals(someone) >= 1


def test_a_patient_is_sent_to_their_own_page(world, client):
    client.force_login(world.alice_user)
    assert client.get(reverse("reminders:home"))["Location"] == page(world.alice)
    client.force_login(world.prescriber)
    assert client.get(reverse("reminders:home")).status_code == 403


def test_the_choices_start_from_the_defaults_and_are_saved_and_audited(world, client):
    world.alice.email = "alice@example.org"
    world.alice.save()
    client.force_login(world.alice_user)
    text = page_text(client.get(page(world.alice)))
    for default in ('value="08:00"', 'value="20:00"', 'value="22:00"', 'value="07:00"'):
        assert default in text
    assert "alice@example.org" in text

    response = client.post(reverse("reminders:preferences", args=[world.alice.pk]), CHOICES)
    assert response.status_code == 302
    saved = ContactPreference.objects.get(patient=world.alice)
    assert (saved.in_app, saved.by_email, saved.by_sms, saved.dose_reminders) == (
        True, True, False, True)  # fmt: skip
    assert (saved.quiet_start, saved.quiet_end, saved.morning_time, saved.evening_time) == (
        dt.time(21, 30), dt.time(6, 45), dt.time(7, 15), dt.time(19, 45))  # fmt: skip
    event = AuditEvent.objects.get(action="create", object_type="reminders.contactpreference")
    assert event.detail["changed"]["morning_time"] == ["08:00", "07:15"]

    client.post(reverse("reminders:preferences", args=[world.alice.pk]),
                {**CHOICES, "dose_reminders": "", "quiet_start": "", "quiet_end": ""})  # fmt: skip
    saved.refresh_from_db()
    assert not saved.dose_reminders and saved.quiet_start is None and saved.quiet_end is None
    event = AuditEvent.objects.get(action="update", object_type="reminders.contactpreference")
    assert set(event.detail["changed"]) == {"dose_reminders", "quiet_start", "quiet_end"}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"by_sms": "on"}, "by_sms", "no phone number"),
        ({"quiet_end": ""}, "quiet_end", "both the start and the end"),
        ({"morning_time": "20:00", "evening_time": "08:00"}, "evening_time", "after the morning"),
        ({"quiet_start": "05:00", "quiet_end": "10:00"}, "morning_time", "quiet hours"),
    ],
)
def test_choices_that_could_not_work_are_refused_naming_the_field(world, client, changes, field,
                                                                   message):  # fmt: skip
    world.alice.email = "alice@example.org"
    world.alice.save()
    client.force_login(world.alice_user)
    response = client.post(reverse("reminders:preferences", args=[world.alice.pk]),
                           {**CHOICES, **changes})  # fmt: skip
    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field])
    assert not ContactPreference.objects.exists()


def test_a_guardian_sets_the_childs_choices_and_another_patient_cannot(world, client):
    client.force_login(world.guardian)
    choices = {**CHOICES, "by_email": ""}
    response = client.post(reverse("reminders:preferences", args=[world.chloe.pk]), choices)
    assert response.status_code == 302
    saved = ContactPreference.objects.get(patient=world.chloe)
    assert saved.updated_by == world.guardian and saved.morning_time == dt.time(7, 15)
    client.force_login(world.bob_user)
    assert client.post(reverse("reminders:preferences", args=[world.chloe.pk]),
                       choices).status_code == 403  # fmt: skip
    saved.refresh_from_db()
    assert saved.updated_by == world.guardian
