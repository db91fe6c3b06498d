"""A compliant course in each pack, from enrolment to the test after the last dose.

Each step asks the engine, as the clinic and the pharmacy would; every answer must be yes, and
the timeline must end with nothing outstanding once the post-course test is recorded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from isoguard.core import model
from isoguard.core.programs import evaluate
from isoguard.core.programs.obligations import obligations
from isoguard.core.vocabulary import (
    ConsentKind,
    ContraceptionMethod,
    Jurisdiction,
    PregnancyTestResult,
    PregnancyTestSetting,
    Product,
    RulePack,
)

D = dt.timedelta
NEG = PregnancyTestResult.NEGATIVE
START = dt.date(2026, 3, 2)
PACKS = {
    RulePack.US_IPLEDGE_2023: Jurisdiction.US,
    RulePack.US_IPLEDGE_2026: Jurisdiction.US,
    RulePack.EU_PPP_2018: Jurisdiction.EU,
    RulePack.UK_MHRA_2026: Jurisdiction.UK,
}


@dataclasses.dataclass
class Course:
    """A course under way: its events so far, and the engine asked at each step."""

    pack: RulePack
    events: list[model.Event]
    first_dose: dt.date | None = None
    last_dose: dt.date | None = None

    def record(self) -> model.CourseRecord:
        product = Product.CLARAVIS if PACKS[self.pack] == Jurisdiction.US else Product.ROACCUTANE
        return model.CourseRecord(
            PACKS[self.pack], model.PatientFacts(dt.date(2000, 5, 5), True),
            model.CourseFacts(product, self.first_dose, self.last_dose), tuple(self.events),
        )  # fmt: skip

    def allowed(self, action: str, day: dt.date) -> model.Decision:
        moment = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
        decision = evaluate(self.record(), action, moment, pack=self.pack)
        unmet = [(f.rule, f.message) for f in decision.findings if f.status != "met"]
        assert decision.allowed, (action, day, unmet)
        return decision

    @property
    def us(self) -> bool:
        return PACKS[self.pack] == Jurisdiction.US

    def visit(self, day: dt.date, setting: PregnancyTestSetting) -> None:
        """A monthly visit: test, counselling, mood check, questions, then the prescription."""
        self.events += [
            model.PregnancyTest(day, NEG, setting),
            model.Counselling(day),
            model.MoodAssessment("phq9", 2, day),
            model.Comprehension(day, True),
        ]
        self.events.append(model.Prescription(day, 30))
        self.allowed("prescribe", day)

    def fill(self, day: dt.date) -> None:
        self.events.append(model.MedicationGuideAck(day))
        self.allowed("dispense", day)
        self.events.append(model.Dispense(day, 30))


@pytest.mark.parametrize("pack", list(RulePack))
def test_a_compliant_course_is_allowed_at_every_step_and_ends_with_nothing_due(pack):
    course = Course(pack, [
        model.Contraception((ContraceptionMethod.IUD, ContraceptionMethod.MALE_CONDOM),
                            START - D(days=45)),
        model.Enrolled(START),
        model.Consent(ConsentKind.INFORMED_CONSENT, START),
        model.Consent(ConsentKind.PREGNANCY_PREVENTION, START),
        model.Consent(ConsentKind.ACKNOWLEDGEMENT_OF_RISK, START),
        model.PregnancyTest(START, NEG, PregnancyTestSetting.CLINIC),
        model.Counselling(START),
        model.MoodAssessment("phq9", 3, START),
    ])  # fmt: skip
    # US: a confirmation test 30 days after enrolment; EU/UK: the test at the prescription visit.
    first_visit = START + D(days=32) if course.us else START
    course.visit(first_visit, PregnancyTestSetting.LAB)
    course.fill(first_visit + D(days=1))
    course.allowed("start_course", first_visit + D(days=1))
    course.first_dose = first_visit + D(days=1)

    last_fill = first_visit + D(days=1)
    for _month in range(4):
        visit = last_fill + D(days=28)
        course.visit(visit, PregnancyTestSetting.HOME if course.us else PregnancyTestSetting.CLINIC)
        last_fill = visit + D(days=2)
        course.fill(last_fill)

    course.last_dose = last_fill + D(days=29)
    course.events.append(model.LastDose(course.last_dose))
    after = dt.datetime.combine(course.last_dose + D(days=1), dt.time(12), tzinfo=dt.UTC)
    due = {o.id: o for o in obligations(course.record(), after, pack=pack)}
    assert {"post_course_test", "contraception_continues"} <= set(due)

    test_day = due["post_course_test"].due
    course.events.append(model.PregnancyTest(test_day, NEG, PregnancyTestSetting.HOME))
    ends = max(test_day, due["contraception_continues"].due)
    later = dt.datetime.combine(ends + D(days=1), dt.time(12), tzinfo=dt.UTC)
    assert obligations(course.record(), later, pack=pack) == ()
