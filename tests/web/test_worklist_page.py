"""The worklist page: the clinic's only, filterable, audited."""

from __future__ import annotations

from django.urls import reverse

from isoguard.audit.models import AuditEvent


def test_only_the_clinic_opens_the_worklist_and_a_refusal_is_audited(world, client):
    for outsider in (world.alice_user, world.pharmacist, world.guardian, world.admin):
        client.force_login(outsider)
        assert client.get(reverse("worklist")).status_code == 403
    assert AuditEvent.objects.filter(action="list_worklist", outcome="refused").count() == 4
    client.force_login(world.staff)
    response = client.get(reverse("worklist"), {"kind": "nonsense", "who": "patient"})
    assert response.status_code == 200
    assert response.context["chosen"] == {"kind": "", "who": "patient"}
    assert all(i.who == "patient" for i in response.context["items"])
    assert AuditEvent.objects.filter(
        actor=world.staff, action="list", object_type="worklist"
    ).exists()


def test_a_page_number_that_is_not_one_is_refused_by_name_and_page_one_shown(world, client):
    client.force_login(world.staff)
    for bad in ("abc", "0", "1001", "²", "-1", "1.5"):
        response = client.get(reverse("worklist"), {"page": bad})
        assert response.status_code == 400, bad
        assert "page: expected a whole number from 1 to 1000" in response.content.decode()
    assert client.get(reverse("worklist"), {"page": "2"}).status_code == 200
