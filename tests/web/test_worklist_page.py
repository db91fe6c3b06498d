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
