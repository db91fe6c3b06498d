"""Reading an Organization or a Practitioner: the actors a patient's record refers to.

They are not in a patient's compartment, so they have a rule of their own: a user may read their
own organisation and its people, and any organisation or person that the record of a patient they
may see refers to (the clinic, the course's prescriber, the prescriber of a prescription, the
pharmacy and pharmacist of a fill), with a pharmacist limited to the prescriptions presented at
their pharmacy. Anything else is 404, so that the directory of accounts cannot be walked.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from isoguard.accounts.models import Organisation, User
from isoguard.audit.services import audit_record
from isoguard.core.vocabulary import Role
from isoguard.courses.models import Course, Prescription
from isoguard.interop.fhir import mapping
from isoguard.interop.fhir.views import fhir_response, fhir_view, id_number
from isoguard.patients.access import patients_visible_to, pharmacy_prescriptions


def _prescriptions(user: User) -> QuerySet[Prescription]:
    if user.role == Role.PHARMACIST:
        return pharmacy_prescriptions(user.organisation_id or 0)
    return Prescription.objects.filter(course__patient__in=patients_visible_to(user))


def practitioner_visible(user: User, pk: int) -> bool:
    person = User.objects.filter(pk=pk).only("organisation_id").first()
    if person is None:
        return False
    if pk == user.pk or (user.organisation_id and person.organisation_id == user.organisation_id):
        return True
    if (
        user.role != Role.PHARMACIST
        and Course.objects.filter(patient__in=patients_visible_to(user), prescriber_id=pk).exists()
    ):
        return True
    return _prescriptions(user).filter(Q(prescriber_id=pk) | Q(dispense__pharmacist_id=pk)).exists()


def organization_visible(user: User, pk: int) -> bool:
    if user.organisation_id == pk:
        return True
    if user.role != Role.PHARMACIST and patients_visible_to(user).filter(clinic_id=pk).exists():
        return True
    return _prescriptions(user).filter(Q(pharmacy_id=pk) | Q(dispense__pharmacy_id=pk)).exists()


@fhir_view(("GET",))
def actor_read(request: HttpRequest, resource_type: str, resource_id: str) -> HttpResponse:
    """`Practitioner/practitioner-5` or `Organization/org-2`, if the user's records refer to it."""
    user: User = request.user  # type: ignore[assignment]
    if resource_type == "Practitioner":
        pk = id_number(resource_id, "practitioner")
        visible = practitioner_visible(user, pk)
    else:
        pk = id_number(resource_id, "org")
        visible = organization_visible(user, pk)
    audit_record(
        actor=user, action="fhir_read", object_type=f"fhir.{resource_type.lower()}",
        object_id=str(pk), outcome="allowed" if visible else "refused",
        reason="" if visible else "not referred to by a record this user may see",
        request=request,
    )  # fmt: skip
    if not visible:
        raise Http404(f"No {resource_type}/{resource_id}.")
    if resource_type == "Practitioner":
        return fhir_response(mapping.practitioner_resource(User.objects.get(pk=pk)))
    return fhir_response(mapping.organization_resource(Organisation.objects.get(pk=pk)))
