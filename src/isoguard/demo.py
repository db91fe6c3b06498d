"""Demo data: one clinic, one pharmacy, their people, and six patients in different situations.

Dates are relative to `today`, so the demo always shows a live picture: Fatima's dispense
window closes today, Erin finished her course last month, and so on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from isoguard.accounts.models import Organisation, User
from isoguard.audit.services import audit_record
from isoguard.core.knowledge.codes import load_codes
from isoguard.core.mood import tool_for_age
from isoguard.core.vocabulary import (
    ConsentKind,
    CourseStatus,
    Jurisdiction,
    LabTest,
    MonthlyCheckKind,
    Role,
)
from isoguard.courses.dosing_services import dose_plan_set
from isoguard.courses.models import (
    Consent,
    ContraceptionPlan,
    Course,
    Dispense,
    DoseDiaryEntry,
    LabResult,
    MedicationGuideAck,
    MonthlyCheck,
    MoodAssessment,
    PregnancyTest,
    Prescription,
    SymptomReport,
)
from isoguard.courses.report_services import report_triage
from isoguard.patients.models import (
    Allergy,
    CurrentMedicine,
    Diagnosis,
    Guardianship,
    Patient,
    PregnancyPotential,
    WeightMeasurement,
)
from isoguard.screenings.services import screening_run

DEMO_PASSWORD = "isoguard-demo"
PACK = "us-ipledge-2026"
CONSENT_VERSION = "iPLEDGE 2026 forms (demo)"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    who: str


class _Builder:
    """Creates the rows of one demo clinic; each method is one person or one step of a course."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.clinic = Organisation.objects.create(
            name="Riverside Dermatology",
            kind="clinic",
            jurisdiction=Jurisdiction.US,
            phone="+1 555 0100",
        )
        self.pharmacy = Organisation.objects.create(
            name="Main Street Pharmacy",
            kind="pharmacy",
            jurisdiction=Jurisdiction.US,
            phone="+1 555 0199",
        )
        self.logins: list[DemoLogin] = []
        self.prescriber = self.user("dr.rivera", Role.PRESCRIBER, "Ana", "Rivera", self.clinic)
        self.user("nurse.kim", Role.CLINIC_STAFF, "Jae", "Kim", self.clinic)
        self.pharmacist = self.user("pharm.chen", Role.PHARMACIST, "Li", "Chen", self.pharmacy)
        admin = self.user("admin", Role.ADMINISTRATOR, "Sam", "Admin", None)
        admin.is_staff = admin.is_superuser = True
        admin.save(update_fields=["is_staff", "is_superuser"])

    def day(self, offset: int) -> dt.date:
        return self.today + dt.timedelta(days=offset)

    def user(
        self, username: str, role: Role, first: str, last: str, org: Organisation | None
    ) -> User:
        user = User(
            username=username, role=role, first_name=first, last_name=last, organisation=org
        )
        user.set_password(DEMO_PASSWORD)
        user.full_clean(exclude=["password"])
        user.save()
        self.logins.append(DemoLogin(username, role.value, f"{first} {last}"))
        return user

    def patient(
        self,
        username: str,
        given: str,
        family: str,
        age_years: int,
        *,
        can_become_pregnant: bool,
        reason: str,
        weight_kg: str,
        gender: str,
    ) -> Patient:
        account = self.user(username, Role.PATIENT, given, family, None)
        # Ten days before the first of this month, age_years ago: the birthday has passed this year.
        birth = dt.date(self.today.year - age_years, self.today.month, 1) - dt.timedelta(days=10)
        patient = Patient.objects.create(
            clinic=self.clinic,
            user=account,
            given_name=given,
            family_name=family,
            birth_date=birth,
            jurisdiction=Jurisdiction.US,
            administrative_gender=gender,
            clinic_record_number=f"RD-{1000 + Patient.objects.count() + 1}",
        )
        PregnancyPotential.objects.create(
            patient=patient,
            can_become_pregnant=can_become_pregnant,
            reason=reason,
            assessed_on=self.day(-90),
            assessed_by=self.prescriber,
        )
        WeightMeasurement.objects.create(
            patient=patient,
            measured_on=self.day(-90),
            weight_kg=Decimal(weight_kg),
            recorded_by=self.prescriber,
        )
        acne = load_codes().diagnosis("acne_vulgaris")
        Diagnosis.objects.create(
            patient=patient,
            icd10_code=acne.icd10,
            description="Severe recalcitrant nodular acne",
            recorded_on=self.day(-90),
            recorded_by=self.prescriber,
        )
        return patient

    def course(
        self,
        patient: Patient,
        product: str,
        status: CourseStatus,
        *,
        enrolled: int | None,
        first_dose: int | None,
        last_dose: int | None = None,
        number: int = 1,
    ) -> Course:
        return Course.objects.create(
            patient=patient,
            number=number,
            product=product,
            rule_pack=PACK,
            status=status,
            prescriber=self.prescriber,
            enrolled_on=self.day(enrolled) if enrolled is not None else None,
            first_dose_on=self.day(first_dose) if first_dose is not None else None,
            last_dose_on=self.day(last_dose) if last_dose is not None else None,
        )

    def enrolment(
        self,
        course: Course,
        offset: int,
        *,
        can_become_pregnant: bool,
        guardian: bool = False,
        methods: tuple[str, ...] = ("iud", "male_condom"),
    ) -> None:
        self.screened(course, offset - 5, can_become_pregnant=can_become_pregnant)
        kinds = [ConsentKind.INFORMED_CONSENT]
        if can_become_pregnant:
            kinds.append(ConsentKind.PREGNANCY_PREVENTION)
            ContraceptionPlan.objects.create(
                course=course,
                methods=list(methods),
                start=self.day(offset - 35),
                recorded_by=self.prescriber,
            )
        for kind in kinds:
            Consent.objects.create(
                course=course,
                kind=kind,
                signed_on=self.day(offset),
                document_version=CONSENT_VERSION,
                guardian_signed=guardian,
                recorded_by=self.prescriber,
            )

    def labs(self, course: Course, *, baseline: int, peak: int | None = None) -> None:
        """ALT and fasting triglycerides before the first dose and at the peak dose (Delphi)."""
        for offset, tg in ((baseline, "110"), (peak, "165")):
            if offset is None:
                continue
            for test, value, unit in ((LabTest.TRIGLYCERIDES, tg, "mg/dL"),
                                      (LabTest.ALT, "22", "U/L")):  # fmt: skip
                LabResult.objects.create(
                    patient=course.patient, course=course, test=test,
                    loinc_code=load_codes().lab_test(test).loinc, value=Decimal(value),
                    unit=unit, taken_on=self.day(offset), fasting=True,
                    recorded_by=self.prescriber,
                )  # fmt: skip

    def screened(self, course: Course, offset: int, *, can_become_pregnant: bool) -> None:
        """Screen the patient as the prescriber did before the course, and link the course."""
        screening = screening_run(
            user=self.prescriber,
            patient_id=course.patient_id,
            as_of=self.day(offset),
            fields={
                "diagnosis": "severe_recalcitrant_nodular_acne",
                "failed_treatments": ["topical_benzoyl_peroxide", "oral_doxycycline"],
                "can_become_pregnant": can_become_pregnant,
            },
        )
        screening.course = course
        screening.save(update_fields=["course"])

    def dosing(self, course: Course, mg_per_kg_day: str, *, missed: tuple[tuple[int, str], ...]):
        """Set the dose from the first dose on, and tick the diary up to yesterday."""
        assert course.first_dose_on is not None
        plan = dose_plan_set(
            user=self.prescriber, course_id=course.pk, mg_per_kg_day=Decimal(mg_per_kg_day),
            target_mg_per_kg=120, effective_from=course.first_dose_on,
        )  # fmt: skip
        recorder = course.patient.user or self.prescriber
        DoseDiaryEntry.objects.bulk_create(
            DoseDiaryEntry(
                course=course, day=self.day(offset), time=time, recorded_by=recorder,
                taken=(offset, time) not in missed, dose_mg=plan.dose_mg(time),
            )
            for offset in range((course.first_dose_on - self.today).days, 0)
            for time in ("morning", "evening")
        )  # fmt: skip

    def pregnancy_test(self, course: Course, offset: int, setting: str) -> None:
        PregnancyTest.objects.create(
            patient=course.patient,
            course=course,
            specimen_date=self.day(offset),
            result="negative",
            setting=setting,
            # A clinic dipstick is a urine test; a laboratory test here is a serum one.
            loinc_code="2106-3" if setting == "clinic" else "2118-8",
            recorded_by=self.prescriber,
        )

    def month(
        self,
        course: Course,
        offset: int,
        *,
        test: str | None,
        dispensed: int | None,
        daily_mg: int = 60,
    ) -> Prescription:
        """One month's cycle: test, counselling, comprehension, prescription, guide, dispense."""
        if test is not None:
            self.pregnancy_test(course, offset, test)
            MonthlyCheck.objects.create(
                course=course,
                kind=MonthlyCheckKind.COMPREHENSION,
                done_on=self.day(offset),
                passed=True,
                recorded_by=course.patient.user or self.prescriber,
            )
        MonthlyCheck.objects.create(
            course=course,
            kind=MonthlyCheckKind.COUNSELLING,
            done_on=self.day(offset),
            recorded_by=self.prescriber,
        )
        rx = Prescription.objects.create(
            course=course,
            prescriber=self.prescriber,
            written_on=self.day(offset),
            days_supply=30,
            refills=0,
            daily_dose_mg=daily_mg,
            quantity=60,
            pharmacy=self.pharmacy,
        )
        if dispensed is not None:
            MedicationGuideAck.objects.create(
                prescription=rx,
                acknowledged_on=self.day(dispensed),
                acknowledged_by=course.patient.user or self.pharmacist,
            )
            Dispense.objects.create(
                prescription=rx,
                dispensed_on=self.day(dispensed),
                days_supply=30,
                quantity=60,
                pharmacist=self.pharmacist,
                pharmacy=self.pharmacy,
            )
        return rx

    def side_effects(
        self, *, ben: Patient, chloe: Patient, parent: User, erin: Patient, alice: Patient
    ) -> None:
        """Reports and mood screens: one of each state the clinic's worklist shows."""
        nurse = User.objects.get(username="nurse.kim")
        self.report(ben, ben.user, "lips really dry and cracking, using balm a lot", -5)
        chloe_report = self.report(
            chloe, parent, "this is chloes mum, shes been crying a lot and doesnt want to see "
            "her friends", -1,
        )  # fmt: skip
        SymptomReport.objects.filter(pk=chloe_report.pk).update(
            review_state=SymptomReport.ReviewState.ACKNOWLEDGED, acknowledged_by=nurse,
            acknowledged_at=self.moment(0),
        )  # fmt: skip
        erin_report = self.report(erin, erin.user, "things look blurry when I drive at night", -40)
        SymptomReport.objects.filter(pk=erin_report.pk).update(
            review_state=SymptomReport.ReviewState.RESOLVED, acknowledged_by=self.prescriber,
            acknowledged_at=self.moment(-40), reviewed_by=self.prescriber,
            reviewed_at=self.moment(-39),
            review_note="Stopped for 3 days and referred to ophthalmology; eyes normal, restarted.",
        )  # fmt: skip
        for patient, offset in ((alice, -12), (chloe, -26)):
            tool = tool_for_age(patient.age_on(self.today))
            MoodAssessment.objects.create(
                patient=patient, course=patient.courses.first(), tool=tool, score=2, item9=0,
                answers={"items": [1, 1, 0, 0, 0, 0, 0, 0, 0], "extras": {}},
                assessed_on=self.day(offset), recorded_by=patient.user or self.prescriber,
            )  # fmt: skip

    def moment(self, offset: int) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.day(offset), dt.time(9, 30)))

    def report(self, patient: Patient, by: User | None, text: str, offset: int) -> SymptomReport:
        report = SymptomReport.objects.create(
            patient=patient, course=patient.courses.first(), text=text,
            submitted_by=by or self.prescriber,
        )  # fmt: skip
        report_triage(report)
        SymptomReport.objects.filter(pk=report.pk).update(
            submitted_at=self.moment(offset), triaged_at=self.moment(offset)
        )
        return report


@transaction.atomic
def create_demo(today: dt.date) -> list[DemoLogin]:
    """Create the demo clinic, pharmacy, users and six patients; return their logins."""
    b = _Builder(today)

    # Alice: can become pregnant, two months into her course, every step on time.
    alice = b.patient(
        "alice",
        "Alice",
        "Moreno",
        24,
        can_become_pregnant=True,
        gender="female",
        reason="Has periods; no surgery",
        weight_kg="62",
    )
    course = b.course(alice, "claravis", CourseStatus.ACTIVE, enrolled=-75, first_dose=-40)
    b.enrolment(course, -75, can_become_pregnant=True)
    b.pregnancy_test(course, -75, "clinic")
    b.month(course, -43, test="lab", dispensed=-41)
    b.month(course, -12, test="lab", dispensed=-10)
    b.dosing(course, "1.0", missed=((-30, "evening"), (-17, "morning"), (-3, "evening")))
    b.labs(course, baseline=-47, peak=-19)

    # Ben: cannot become pregnant, three weeks into his course.
    ben = b.patient(
        "ben",
        "Ben",
        "Okafor",
        19,
        can_become_pregnant=False,
        gender="male",
        reason="No uterus or ovaries",
        weight_kg="78",
    )
    course = b.course(ben, "absorica", CourseStatus.ACTIVE, enrolled=-30, first_dose=-20)
    b.enrolment(course, -30, can_become_pregnant=False)
    b.month(course, -22, test=None, dispensed=-21, daily_mg=80)
    b.dosing(course, "1.0", missed=((-9, "evening"),))
    b.labs(course, baseline=-27)

    # Chloe: 16, her mother consents with her and can see her record; abstinence as her method.
    chloe = b.patient(
        "chloe",
        "Chloe",
        "Tan",
        16,
        can_become_pregnant=True,
        gender="female",
        reason="Has periods",
        weight_kg="55",
    )
    parent = b.user("chloe.parent", Role.GUARDIAN, "Mei", "Tan", None)
    Guardianship.objects.create(
        guardian=parent, patient=chloe, relationship="mother", since=b.day(-120)
    )
    course = b.course(chloe, "myorisan", CourseStatus.ACTIVE, enrolled=-60, first_dose=-25)
    b.enrolment(course, -60, can_become_pregnant=True, guardian=True, methods=("abstinence",))
    b.pregnancy_test(course, -60, "clinic")
    b.month(course, -27, test="lab", dispensed=-26, daily_mg=40)
    b.dosing(course, "0.75", missed=())
    b.labs(course, baseline=-32)

    # Dev: in screening; takes minocycline, which must stop before isotretinoin starts.
    dev = b.patient(
        "dev",
        "Dev",
        "Patel",
        21,
        can_become_pregnant=False,
        gender="male",
        reason="No uterus or ovaries",
        weight_kg="70",
    )
    b.course(dev, "isotretinoin", CourseStatus.SCREENING, enrolled=None, first_dose=None)
    CurrentMedicine.objects.create(
        patient=dev, name="minocycline 100 mg", started_on=b.day(-200), recorded_by=b.prescriber
    )
    Allergy.objects.create(
        patient=dev,
        substance="penicillin",
        reaction="rash",
        recorded_on=b.day(-200),
        recorded_by=b.prescriber,
    )

    # Erin: finished her course last month; the test one month after the last dose is due now.
    erin = b.patient(
        "erin",
        "Erin",
        "Walsh",
        28,
        can_become_pregnant=True,
        gender="female",
        reason="Has periods; no surgery",
        weight_kg="66",
    )
    course = b.course(
        erin, "claravis", CourseStatus.COMPLETED, enrolled=-205, first_dose=-170, last_dose=-30
    )
    b.enrolment(course, -205, can_become_pregnant=True, methods=("implant", "male_condom"))
    b.pregnancy_test(course, -205, "clinic")
    for offset in (-173, -143, -113, -83, -53):
        b.month(course, offset, test="lab", dispensed=offset + 2, daily_mg=60)

    # Fatima: her test was six days ago, so the seven-day dispense window closes today.
    fatima = b.patient(
        "fatima",
        "Fatima",
        "Rahman",
        22,
        can_become_pregnant=True,
        gender="female",
        reason="Has periods; no surgery",
        weight_kg="58",
    )
    course = b.course(fatima, "zenatane", CourseStatus.ACTIVE, enrolled=-72, first_dose=-36)
    b.enrolment(course, -72, can_become_pregnant=True, methods=("combined_pill", "male_condom"))
    b.pregnancy_test(course, -72, "clinic")
    b.month(course, -38, test="lab", dispensed=-37)
    b.month(course, -6, test="lab", dispensed=None)
    b.dosing(course, "1.0", missed=((-20, "morning"), (-19, "morning")))
    b.labs(course, baseline=-43, peak=-15)

    b.side_effects(ben=ben, chloe=chloe, parent=parent, erin=erin, alice=alice)

    audit_record(
        actor=None,
        action="load_demo_data",
        object_type="demo",
        reason=f"demo data for {today.isoformat()}",
    )
    return b.logins
