"""The core's plain types: a course record keeps its events in order."""

from __future__ import annotations

import datetime as dt

from hypothesis import assume, given
from hypothesis import strategies as st

from isoguard.core import model
from isoguard.core.vocabulary import (
    ConsentKind,
    ContraceptionMethod,
    Jurisdiction,
    PregnancyTestResult,
    PregnancyTestSetting,
    Product,
)

D = dt.date


def record(*events: model.Event) -> model.CourseRecord:
    return model.CourseRecord(
        jurisdiction=Jurisdiction.US,
        patient=model.PatientFacts(birth_date=D(2004, 3, 1), can_become_pregnant=True),
        course=model.CourseFacts(product=Product.CLARAVIS),
        events=events,
    )


def test_events_are_kept_oldest_first_whatever_order_they_arrive_in():
    test = model.PregnancyTest(
        D(2026, 10, 28), PregnancyTestResult.NEGATIVE, PregnancyTestSetting.LAB
    )
    consent = model.Consent(ConsentKind.INFORMED_CONSENT, D(2026, 9, 20))
    rx = model.Prescription(D(2026, 10, 29), days_supply=30)

    assert record(rx, test, consent).events == (consent, test, rx)


def test_events_of_one_type_are_found_by_type():
    first = model.Counselling(D(2026, 9, 1))
    second = model.Counselling(D(2026, 10, 1))
    r = record(second, model.Enrolled(D(2026, 8, 1)), first)

    assert r.events_of(model.Counselling) == (first, second)


def test_event_types_use_the_scenario_format_names():
    names = {cls.event_type for cls in model.Event.__args__}  # type: ignore[attr-defined]
    assert names == {
        "enrolled",
        "consent",
        "contraception",
        "pregnancy_test",
        "counselling",
        "comprehension",
        "mood_assessment",
        "lab",
        "prescription",
        "medication_guide_ack",
        "dispense",
        "last_dose",
    }


def test_a_contraception_plan_covers_the_days_from_its_start_to_its_end():
    plan = model.Contraception((ContraceptionMethod.IUD,), start=D(2026, 9, 1), end=D(2026, 12, 31))
    assert not plan.covers(D(2026, 8, 31))
    assert plan.covers(D(2026, 9, 1)) and plan.covers(D(2026, 12, 31))
    assert not plan.covers(D(2027, 1, 1))
    open_ended = model.Contraception((ContraceptionMethod.ABSTINENCE,), start=D(2026, 9, 1))
    assert open_ended.covers(D(2030, 1, 1))


def test_age_turns_over_on_the_birthday_and_on_1_march_for_29_february():
    patient = model.PatientFacts(birth_date=D(2008, 2, 29), can_become_pregnant=None)
    assert patient.age_on(D(2020, 2, 28)) == 11
    assert patient.age_on(D(2020, 2, 29)) == 12
    assert patient.age_on(D(2021, 2, 28)) == 12
    assert patient.age_on(D(2026, 3, 1)) == 18


def anniversary(birth: dt.date, years: int) -> dt.date:
    """The day someone born on `birth` turns `years`: 29 February falls on 1 March."""
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:
        return D(birth.year + years, 3, 1)


@given(
    birth=st.dates(min_value=D(1900, 1, 1), max_value=D(2026, 1, 1)),
    day=st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 1, 1)),
)
def test_age_is_the_number_of_anniversaries_passed(birth, day):
    patient = model.PatientFacts(birth_date=birth, can_become_pregnant=None)
    assume(day >= birth)
    expected = max(k for k in range(0, 202) if anniversary(birth, k) <= day)
    assert patient.age_on(day) == expected


@given(st.lists(st.dates(min_value=D(2020, 1, 1), max_value=D(2030, 1, 1)), max_size=30))
def test_a_record_sorts_any_events_by_date(days):
    r = record(*(model.Counselling(day) for day in days))
    assert [e.on for e in r.events] == sorted(days)
