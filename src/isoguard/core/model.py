"""Plain types the core reasons over: a course record at a moment, and the decisions about it.

The Django apps convert their rows to these in one place (`isoguard.courses.convert`); the
scenario format of `DESIGN.md` maps onto them field for field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from isoguard.core.vocabulary import (
    Action,
    ConsentKind,
    ContraceptionMethod,
    DoseTime,
    FindingStatus,
    Jurisdiction,
    LabTest,
    MoodTool,
    PregnancyTestResult,
    PregnancyTestSetting,
    Product,
)


@dataclass(frozen=True)
class PatientFacts:
    """What the rules need to know about the patient, not who they are."""

    birth_date: dt.date
    can_become_pregnant: bool | None
    """Set by the prescriber; None until assessed. Kept apart from sex and gender."""

    def age_on(self, day: dt.date) -> int:
        """Return the patient's age in whole years on `day`."""
        had_birthday = (day.month, day.day) >= (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - (0 if had_birthday else 1)


@dataclass(frozen=True)
class CourseFacts:
    product: Product
    first_dose: dt.date | None = None
    last_dose: dt.date | None = None
    number: int = 1


class _Dated:
    """An event that happened on its `date`."""

    date: dt.date

    @property
    def on(self) -> dt.date:
        return self.date


@dataclass(frozen=True)
class Enrolled(_Dated):
    event_type: ClassVar[str] = "enrolled"
    date: dt.date


@dataclass(frozen=True)
class Consent(_Dated):
    event_type: ClassVar[str] = "consent"
    kind: ConsentKind
    date: dt.date


@dataclass(frozen=True)
class Contraception:
    event_type: ClassVar[str] = "contraception"
    methods: tuple[ContraceptionMethod, ...]
    start: dt.date
    end: dt.date | None = None

    @property
    def on(self) -> dt.date:
        return self.start

    def covers(self, day: dt.date) -> bool:
        """Return whether this plan is in use on `day`."""
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class PregnancyTest:
    event_type: ClassVar[str] = "pregnancy_test"
    specimen_date: dt.date
    result: PregnancyTestResult
    setting: PregnancyTestSetting

    @property
    def on(self) -> dt.date:
        return self.specimen_date


@dataclass(frozen=True)
class Counselling(_Dated):
    event_type: ClassVar[str] = "counselling"
    date: dt.date


@dataclass(frozen=True)
class Comprehension(_Dated):
    event_type: ClassVar[str] = "comprehension"
    date: dt.date
    passed: bool


@dataclass(frozen=True)
class MoodAssessment(_Dated):
    event_type: ClassVar[str] = "mood_assessment"
    tool: MoodTool
    score: int
    date: dt.date


@dataclass(frozen=True)
class LabResult(_Dated):
    event_type: ClassVar[str] = "lab"
    test: LabTest
    value: float
    unit: str
    date: dt.date


@dataclass(frozen=True)
class Prescription(_Dated):
    event_type: ClassVar[str] = "prescription"
    date: dt.date
    days_supply: int
    refills: int = 0


@dataclass(frozen=True)
class MedicationGuideAck(_Dated):
    event_type: ClassVar[str] = "medication_guide_ack"
    date: dt.date


@dataclass(frozen=True)
class Dispense(_Dated):
    event_type: ClassVar[str] = "dispense"
    date: dt.date
    days_supply: int


@dataclass(frozen=True)
class LastDose(_Dated):
    event_type: ClassVar[str] = "last_dose"
    date: dt.date


Event = (
    Enrolled
    | Consent
    | Contraception
    | PregnancyTest
    | Counselling
    | Comprehension
    | MoodAssessment
    | LabResult
    | Prescription
    | MedicationGuideAck
    | Dispense
    | LastDose
)


@dataclass(frozen=True)
class Weight:
    measured_on: dt.date
    kg: float


@dataclass(frozen=True)
class DoseRecord:
    """One line of the dose diary: a dose taken, or missed (and then skipped, never doubled)."""

    day: dt.date
    time: DoseTime
    taken: bool
    mg: int


E = TypeVar("E")


@dataclass(frozen=True)
class CourseRecord:
    """One patient's course at a moment: the facts and every event so far, oldest first.

    `weights` and `diary` are not events of the scenario format; the dose planner reads them.
    """

    jurisdiction: Jurisdiction
    patient: PatientFacts
    course: CourseFacts
    events: tuple[Event, ...] = ()
    pack: str | None = None
    weights: tuple[Weight, ...] = ()
    diary: tuple[DoseRecord, ...] = ()

    def __post_init__(self) -> None:
        # Sorted once here so that every rule can rely on chronological order; the sorts are
        # stable, so records of the same day keep the order in which they were recorded.
        object.__setattr__(self, "events", tuple(sorted(self.events, key=lambda e: e.on)))
        object.__setattr__(
            self, "weights", tuple(sorted(self.weights, key=lambda w: w.measured_on))
        )
        order = {DoseTime.MORNING: 0, DoseTime.EVENING: 1}
        object.__setattr__(
            self, "diary", tuple(sorted(self.diary, key=lambda d: (d.day, order[d.time])))
        )

    def events_of(self, event_type: type[E]) -> tuple[E, ...]:
        """Return the events of one type, oldest first."""
        return tuple(e for e in self.events if isinstance(e, event_type))


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one requirement."""

    rule: str
    status: FindingStatus
    message: str
    source: str
    deadline: dt.date | None = None


@dataclass(frozen=True)
class Decision:
    """The answer to "may this action happen now?", with every finding behind it."""

    action: Action
    allowed: bool
    pack: str
    dispense_by: dt.date | None = None
    findings: tuple[Finding, ...] = field(default_factory=tuple)
