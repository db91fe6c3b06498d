"""A course of isotretinoin and everything recorded along it.

Each table holds one kind of event of the scenario format (`DESIGN.md`); `convert.py` turns a
course and its rows into the core's `CourseRecord`, in one place.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from isoguard.choices import choices, one_of
from isoguard.core.vocabulary import (
    Action,
    ConsentKind,
    CourseStatus,
    DoseTime,
    LabTest,
    MonthlyCheckKind,
    MoodTool,
    PregnancyTestResult,
    PregnancyTestSetting,
    Product,
    RulePack,
)

OPEN_STATUSES = [CourseStatus.SCREENING, CourseStatus.ENROLLED, CourseStatus.ACTIVE]


class Course(models.Model):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="courses"
    )
    number = models.PositiveSmallIntegerField(
        help_text="1 for the first course, 2 for the second..."
    )
    product = models.CharField(max_length=20, choices=choices(Product))
    rule_pack = models.CharField(max_length=40, choices=choices(RulePack))
    indication_icd10 = models.CharField(max_length=10, default="L70.0")
    status = models.CharField(
        max_length=20, choices=choices(CourseStatus), default=CourseStatus.SCREENING
    )
    prescriber = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="courses_prescribed"
    )
    enrolled_on = models.DateField(null=True, blank=True)
    first_dose_on = models.DateField(null=True, blank=True)
    last_dose_on = models.DateField(null=True, blank=True)
    target_mg_per_kg = models.PositiveSmallIntegerField(
        default=120, validators=[MinValueValidator(60), MaxValueValidator(220)]
    )
    stopped_reason = models.TextField(blank=True)
    awaiting_screening = models.BooleanField(
        default=False,
        help_text="imported open from another system: nothing is authorised until the patient "
        "is screened here and the course started from that screening",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["patient", "number"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "number"], name="course_number_unique"),
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="one_open_course_per_patient",
            ),
            models.CheckConstraint(
                condition=models.Q(number__gte=1), name="course_number_positive"
            ),
            one_of("status", CourseStatus, name="course_status_valid"),
            one_of("product", Product, name="course_product_valid"),
            one_of("rule_pack", RulePack, name="course_rule_pack_valid"),
            models.CheckConstraint(
                condition=models.Q(target_mg_per_kg__gte=60, target_mg_per_kg__lte=220),
                name="course_target_60_to_220_mg_per_kg",
            ),
            models.CheckConstraint(
                condition=models.Q(last_dose_on__isnull=True)
                | models.Q(
                    first_dose_on__isnull=False, first_dose_on__lte=models.F("last_dose_on")
                ),
                name="course_last_dose_after_first",
            ),
        ]

    def __str__(self) -> str:
        return f"Course {self.number} ({self.product}) for {self.patient}"


class Prescription(models.Model):
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="prescriptions")
    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    written_on = models.DateField()
    days_supply = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    refills = models.PositiveSmallIntegerField(default=0)
    daily_dose_mg = models.PositiveSmallIntegerField()
    quantity = models.PositiveSmallIntegerField(help_text="capsules")
    pharmacy = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="prescriptions_presented",
        help_text="where the prescription was presented; that pharmacy's pharmacists may see it",
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-written_on", "-id"]
        constraints = [
            # Every programme caps a fill at 30 days (programs.md 1.6, 2, 3); no row may say more.
            models.CheckConstraint(
                condition=models.Q(days_supply__gte=1, days_supply__lte=30),
                name="prescription_days_supply_1_to_30",
            ),
            models.CheckConstraint(
                condition=models.Q(daily_dose_mg__gte=1, quantity__gte=1),
                name="prescription_dose_and_quantity_positive",
            ),
            # No programme allows refills: each month needs a new prescription (programs.md 1.6, 2).
            models.CheckConstraint(condition=models.Q(refills=0), name="prescription_no_refills"),
        ]


class Dispense(models.Model):
    """One fill of one prescription; the one-to-one key makes a double dispense impossible."""

    prescription = models.OneToOneField(
        Prescription, on_delete=models.PROTECT, related_name="dispense"
    )
    dispensed_on = models.DateField()
    days_supply = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    quantity = models.PositiveSmallIntegerField(help_text="capsules")
    pharmacist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    pharmacy = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    rma_number = models.CharField(
        max_length=40, blank=True, help_text="iPLEDGE risk management authorization (US)"
    )
    external_do_not_dispense_after = models.DateField(
        null=True, blank=True, help_text="the date iPLEDGE returned with the RMA (US)"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(days_supply__gte=1, days_supply__lte=30, quantity__gte=1),
                name="dispense_days_supply_1_to_30",
            ),
        ]


class MedicationGuideAck(models.Model):
    """The patient's acknowledgement that they received the Medication Guide for one fill."""

    prescription = models.OneToOneField(
        Prescription, on_delete=models.PROTECT, related_name="medication_guide_ack"
    )
    acknowledged_on = models.DateField()
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    guide_version = models.CharField(max_length=40, blank=True)


class Consent(models.Model):
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="consents")
    kind = models.CharField(max_length=30, choices=choices(ConsentKind))
    signed_on = models.DateField()
    document_version = models.CharField(max_length=60)
    guardian_signed = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [one_of("kind", ConsentKind, name="consent_kind_valid")]


class ContraceptionPlan(models.Model):
    """The methods a patient who can become pregnant uses, from `start` until `end`."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="contraception")
    methods = models.JSONField(help_text="slugs of the contraception vocabulary")
    start = models.DateField()
    end = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(start__lte=models.F("end")),
                name="contraception_end_after_start",
            ),
        ]


class PregnancyTest(models.Model):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="pregnancy_tests"
    )
    course = models.ForeignKey(
        Course, null=True, blank=True, on_delete=models.PROTECT, related_name="pregnancy_tests"
    )
    specimen_date = models.DateField()
    result = models.CharField(max_length=10, choices=choices(PregnancyTestResult))
    setting = models.CharField(max_length=10, choices=choices(PregnancyTestSetting))
    loinc_code = models.CharField(max_length=10, blank=True, help_text="see codes.toml")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-specimen_date", "-id"]
        constraints = [
            one_of("result", PregnancyTestResult, name="pregnancy_test_result_valid"),
            one_of("setting", PregnancyTestSetting, name="pregnancy_test_setting_valid"),
        ]


class LabResult(models.Model):
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="labs")
    course = models.ForeignKey(
        Course, null=True, blank=True, on_delete=models.PROTECT, related_name="labs"
    )
    test = models.CharField(max_length=30, choices=choices(LabTest))
    loinc_code = models.CharField(max_length=10)
    value = models.DecimalField(max_digits=8, decimal_places=2)
    unit = models.CharField(max_length=20)
    taken_on = models.DateField()
    fasting = models.BooleanField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)
    findings = models.JSONField(
        default=list, blank=True, help_text="the thresholds it crossed when recorded: level, action"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-taken_on", "-id"]
        constraints = [one_of("test", LabTest, name="lab_test_valid")]


class MonthlyCheck(models.Model):
    """A monthly duty done: counselling (prescriber), comprehension or contraception (patient)."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="monthly_checks")
    kind = models.CharField(max_length=30, choices=choices(MonthlyCheckKind))
    done_on = models.DateField()
    passed = models.BooleanField(null=True, blank=True, help_text="for comprehension questions")
    answers = models.JSONField(default=dict, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-done_on", "-id"]
        constraints = [
            one_of("kind", MonthlyCheckKind, name="monthly_check_kind_valid"),
            # A comprehension check either passed or failed; other checks have no result.
            models.CheckConstraint(
                condition=models.Q(kind=MonthlyCheckKind.COMPREHENSION, passed__isnull=False)
                | (~models.Q(kind=MonthlyCheckKind.COMPREHENSION) & models.Q(passed__isnull=True)),
                name="monthly_check_passed_only_for_comprehension",
            ),
        ]


class MoodAssessment(models.Model):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="mood_assessments"
    )
    course = models.ForeignKey(
        Course, null=True, blank=True, on_delete=models.PROTECT, related_name="mood_assessments"
    )
    tool = models.CharField(max_length=10, choices=choices(MoodTool))
    score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(27)])
    item9 = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(3)], help_text="thoughts of self-harm"
    )
    answers = models.JSONField(default=list, blank=True)
    assessed_on = models.DateField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(score__lte=27), name="mood_score_at_most_27"),
            models.CheckConstraint(
                condition=models.Q(item9__isnull=True) | models.Q(item9__lte=3),
                name="mood_item9_at_most_3",
            ),
            one_of("tool", MoodTool, name="mood_tool_valid"),
        ]


class DoseDiaryEntry(models.Model):
    """One dose the patient took or missed; a missed dose is skipped, never doubled."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="diary")
    day = models.DateField()
    time = models.CharField(max_length=10, choices=choices(DoseTime))
    taken = models.BooleanField()
    dose_mg = models.PositiveSmallIntegerField(
        help_text="the dose due at this time; it counts towards the cumulative dose only if taken"
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["day", "time"]
        verbose_name_plural = "dose diary entries"
        constraints = [
            models.UniqueConstraint(
                fields=["course", "day", "time"], name="one_diary_entry_per_dose"
            ),
            one_of("time", DoseTime, name="diary_time_valid"),
        ]


class SymptomReport(models.Model):
    """What a patient wrote about how they feel. Stored before triage, so it is never lost.

    A mood screen that needs the clinic's attention raises a report too (`mood_assessment`), so
    the clinic's worklist is one list of reports, most urgent first.
    """

    class TriageState(models.TextChoices):
        PENDING = "pending", "pending"
        TRIAGED = "triaged", "triaged"
        NEEDS_MANUAL_REVIEW = "needs_manual_review", "needs manual review"

    class ReviewState(models.TextChoices):
        NEW = "new", "new"
        ACKNOWLEDGED = "acknowledged", "acknowledged"
        RESOLVED = "resolved", "resolved"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="symptom_reports"
    )
    course = models.ForeignKey(
        Course, null=True, blank=True, on_delete=models.PROTECT, related_name="symptom_reports"
    )
    mood_assessment = models.OneToOneField(
        MoodAssessment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="report",
        help_text="the mood screen that raised this report, if one did",
    )
    text = models.TextField(max_length=5000, blank=True)
    checklist = models.JSONField(
        default=list, blank=True, help_text="ids of the symptom checklist items ticked"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(auto_now_add=True)
    triage_state = models.CharField(
        max_length=20, choices=TriageState.choices, default=TriageState.PENDING
    )
    triage_level = models.CharField(max_length=20, blank=True)
    priority = models.PositiveSmallIntegerField(
        default=5,
        help_text="the level's rank (0 none .. 5 emergency); a report not yet triaged, or that "
        "triage failed on, is 5 until someone reads it",
    )
    concepts = models.JSONField(
        default=list, blank=True, help_text="[{id, level, evidence}] as the triage found them"
    )
    triaged_at = models.DateTimeField(null=True, blank=True)
    triage_error = models.TextField(blank=True)
    review_state = models.CharField(
        max_length=20, choices=ReviewState.choices, default=ReviewState.NEW
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(priority__lte=5), name="report_priority_0_5"),
            models.CheckConstraint(
                condition=~models.Q(review_state="resolved") | ~models.Q(review_note=""),
                name="report_resolved_with_note",
            ),
        ]
        indexes = [models.Index(fields=["review_state", "priority"], name="report_worklist")]


class DosePlan(models.Model):
    """The dose the prescriber set, from a day on; the newest plan in force applies.

    Every change is a new row, so the history of the course's doses is kept.
    """

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="dose_plans")
    effective_from = models.DateField()
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1)
    mg_per_kg_day = models.DecimalField(max_digits=4, decimal_places=2)
    target_mg_per_kg = models.PositiveSmallIntegerField()
    daily_mg = models.PositiveSmallIntegerField()
    morning_mg = models.PositiveSmallIntegerField()
    evening_mg = models.PositiveSmallIntegerField()
    plan = models.JSONField(help_text="the core's plan: capsules, fills, projection, how to take")
    reason = models.TextField(blank=True)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_from", "-set_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(daily_mg=models.F("morning_mg") + models.F("evening_mg")),
                name="dose_plan_two_doses_add_up",
            ),
            models.CheckConstraint(
                condition=models.Q(morning_mg__gte=1, evening_mg__gte=1),
                name="dose_plan_two_real_doses",
            ),
            models.CheckConstraint(
                condition=models.Q(target_mg_per_kg__gte=60, target_mg_per_kg__lte=220),
                name="dose_plan_target_60_to_220",
            ),
            models.CheckConstraint(
                condition=models.Q(weight_kg__gte=20, weight_kg__lte=250),
                name="dose_plan_weight_20_to_250",
            ),
        ]

    def dose_mg(self, time: str) -> int:
        return self.morning_mg if time == DoseTime.MORNING else self.evening_mg


class ProgrammeDecision(models.Model):
    """A decision of the rule engine, kept with the pack and every finding that produced it."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="decisions")
    prescription = models.ForeignKey(
        Prescription, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    action = models.CharField(max_length=20, choices=choices(Action))
    as_of = models.DateTimeField()
    pack = models.CharField(max_length=40, choices=choices(RulePack))
    allowed = models.BooleanField()
    dispense_by = models.DateField(null=True, blank=True)
    findings = models.JSONField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reversed_at = models.DateTimeField(
        null=True, blank=True, help_text="an authorisation not picked up, reversed"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            one_of("action", Action, name="decision_action_valid"),
            one_of("pack", RulePack, name="decision_pack_valid"),
        ]

    @property
    def unmet(self) -> list[dict[str, object]]:
        return [f for f in self.findings if f["status"] != "met"]


class CourseDue(models.Model):
    """The first thing due on a course, kept so that the clinic's worklist can order its courses
    without reading every one of them (courses/due.py, courses/worklist.py).

    Derived data, never the truth: the worklist trusts a row only while it is fresh, that is
    computed from every change so far (`computed_changes` = `changes`; each write to the course or
    its patient adds one to `changes`), before `valid_until` (the next midnight, when "today"
    moves) and under the same settings (`computed_with`). Any other row is worked out again.
    """

    course = models.OneToOneField(
        Course, primary_key=True, on_delete=models.CASCADE, related_name="due"
    )
    emergency = models.BooleanField(
        default=False, help_text="something due at once whatever its date (a positive test)"
    )
    first_due = models.DateField(
        null=True, blank=True, help_text="the earliest day anything is due; empty: nothing is"
    )
    first_kind = models.PositiveSmallIntegerField(
        default=0, help_text="the first kind of item due that day, in the worklist's order"
    )
    changes = models.PositiveBigIntegerField(default=1)
    computed_changes = models.PositiveBigIntegerField(default=0)
    valid_until = models.DateTimeField(null=True, blank=True)
    computed_with = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"Due on course {self.course_id}: {self.first_due or 'nothing'}"
