"""The programme rule engine: each rule type at its boundaries, each pack, and its invariants."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoguard.core import model
from isoguard.core.knowledge.loading import KnowledgeError
from isoguard.core.programs import evaluate
from isoguard.core.programs.packs import PackSettingError, load_pack, pack_with_settings
from isoguard.core.programs.rules import RULE_TYPES
from isoguard.core.scenario import parse_scenario
from isoguard.core.vocabulary import (
    Action,
    ConsentKind,
    ContraceptionMethod,
    Jurisdiction,
    PregnancyTestResult,
    PregnancyTestSetting,
    Product,
    RulePack,
)

D = dt.date
EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "examples.jsonl"
NEG, POS = PregnancyTestResult.NEGATIVE, PregnancyTestResult.POSITIVE
LAB, CLINIC, HOME = PregnancyTestSetting.LAB, PregnancyTestSetting.CLINIC, PregnancyTestSetting.HOME


def at(day: D, hour: int = 12, offset: int = -5) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.timezone(dt.timedelta(hours=offset)))


FIRST_DOSE = D(2026, 10, 20)


ENROLLED = D(2026, 9, 8)


def us_record(
    *events: model.Event,
    can_become_pregnant: bool = True,
    first_dose: D | None = FIRST_DOSE,
    enrolled: D = ENROLLED,
) -> model.CourseRecord:
    """A US patient on Claravis, enrolled with consents and two methods since August."""
    base: list[model.Event] = [
        model.Contraception(
            (ContraceptionMethod.IUD, ContraceptionMethod.MALE_CONDOM), start=D(2026, 8, 20)
        ),
        model.Enrolled(enrolled),
        model.Consent(ConsentKind.INFORMED_CONSENT, D(2026, 9, 8)),
        model.Consent(ConsentKind.PREGNANCY_PREVENTION, D(2026, 9, 8)),
        model.PregnancyTest(D(2026, 9, 8), NEG, CLINIC),
        model.Counselling(D(2026, 9, 8)),
    ]
    return model.CourseRecord(
        jurisdiction=Jurisdiction.US,
        patient=model.PatientFacts(D(1999, 4, 17), can_become_pregnant),
        course=model.CourseFacts(Product.CLARAVIS, first_dose=first_dose),
        events=(*base, *events),
    )


def monthly_fill(test_day: D, setting=LAB, *, ack_day: D | None = None) -> tuple[model.Event, ...]:
    """A month during treatment: test, counselling, comprehension, prescription, guide."""
    return (
        model.PregnancyTest(test_day, NEG, setting),
        model.Counselling(test_day),
        model.Comprehension(test_day, passed=True),
        model.Prescription(test_day, days_supply=30),
        model.MedicationGuideAck(ack_day or test_day),
    )


def decide(record, action, day, pack, hour=12):
    return evaluate(record, action, at(day, hour), pack=pack)


def unmet(decision) -> set[str]:
    return {f.rule for f in decision.findings if f.status != "met"}


# The worked examples of the scenario format: the engine must agree with every one.
@pytest.mark.parametrize(
    "line", EXAMPLES.read_text().splitlines(), ids=lambda s: json.loads(s)["id"]
)
def test_every_worked_example_gets_its_expected_decision(line):
    data = json.loads(line)
    scenario = parse_scenario(data)
    decision = evaluate(scenario.record, scenario.action, scenario.as_of, pack=scenario.pack)
    assert decision.allowed is data["expect"]["allowed"]
    expected_by = data["expect"].get("dispense_by")
    assert (decision.dispense_by.isoformat() if decision.dispense_by else None) == expected_by


@pytest.mark.parametrize("pack", ["us-ipledge-2023", "us-ipledge-2026"])
@pytest.mark.parametrize(
    ("day", "allowed"), [(D(2026, 11, 16), True), (D(2026, 11, 22), True), (D(2026, 11, 23), False)]
)
def test_a_dispense_is_allowed_to_day_7_of_the_window_and_refused_on_day_8(pack, day, allowed):
    record = us_record(model.Dispense(D(2026, 10, 16), 30), *monthly_fill(D(2026, 11, 16)))
    decision = decide(record, "dispense", day, pack)
    assert decision.allowed is allowed
    assert decision.dispense_by == (D(2026, 11, 22) if allowed else None)


def test_the_window_closes_at_midnight_eastern_whatever_the_callers_time_zone():
    record = us_record(model.Dispense(D(2026, 10, 16), 30), *monthly_fill(D(2026, 11, 16)))
    # 02:00 UTC on 23 Nov is still 22 Nov (day 7) in New York: allowed.
    late_evening = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
    assert evaluate(record, "dispense", late_evening, pack="us-ipledge-2026").allowed
    # 06:00 UTC on 23 Nov is 01:00 on 23 Nov in New York: day 8, refused.
    after_midnight = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
    assert not evaluate(record, "dispense", after_midnight, pack="us-ipledge-2026").allowed


def pre_treatment(*tests: model.PregnancyTest) -> model.CourseRecord:
    events = [
        e
        for t in tests
        for e in (
            t,
            model.Counselling(t.specimen_date),
            model.Comprehension(t.specimen_date, passed=True),
            model.Prescription(t.specimen_date, 30),
        )
    ]
    # Enrolled early, so that the 30 days from enrolment do not hide the rules under test.
    return us_record(
        *events,
        model.MedicationGuideAck(tests[-1].specimen_date),
        first_dose=None,
        enrolled=D(2026, 8, 1),
    )


def test_the_2023_edition_waits_19_days_after_a_missed_first_window_and_2026_does_not():
    missed = model.PregnancyTest(D(2026, 10, 1), NEG, LAB)  # window to 7 Oct, never filled
    repeat = model.PregnancyTest(D(2026, 10, 10), NEG, LAB)
    record = pre_treatment(missed, repeat)
    refused = decide(record, "dispense", D(2026, 10, 11), "us-ipledge-2023")
    assert "pregnancy_test.window" in unmet(refused)
    assert "on or after 2026-10-20" in next(
        f.message for f in refused.findings if f.rule == "pregnancy_test.window"
    )
    assert decide(record, "dispense", D(2026, 10, 11), "us-ipledge-2026").allowed
    on_day_19 = pre_treatment(missed, model.PregnancyTest(D(2026, 10, 20), NEG, LAB))
    assert decide(on_day_19, "dispense", D(2026, 10, 21), "us-ipledge-2023").allowed


@pytest.mark.parametrize(
    ("pack", "setting", "allowed"),
    [
        ("us-ipledge-2023", LAB, True),
        ("us-ipledge-2023", CLINIC, True),  # FDA enforcement discretion (programs.md 1.9)
        ("us-ipledge-2023", HOME, False),
        ("us-ipledge-2026", CLINIC, True),
        ("us-ipledge-2026", HOME, False),
    ],
)
def test_the_test_before_the_first_dose_is_in_the_setting_the_edition_requires(
    pack, setting, allowed
):
    record = pre_treatment(model.PregnancyTest(D(2026, 10, 1), NEG, setting))
    assert decide(record, "dispense", D(2026, 10, 2), pack).allowed is allowed


def test_a_confirmation_test_must_come_19_days_after_the_screening_test():
    early = pre_treatment(model.PregnancyTest(D(2026, 9, 26), NEG, LAB))  # 18 days after 8 Sep
    assert not decide(early, "dispense", D(2026, 9, 27), "us-ipledge-2026").allowed
    on_time = pre_treatment(model.PregnancyTest(D(2026, 9, 27), NEG, LAB))
    assert decide(on_time, "dispense", D(2026, 9, 28), "us-ipledge-2026").allowed


@pytest.mark.parametrize("pack", ["us-ipledge-2023", "us-ipledge-2026"])
def test_a_home_test_is_accepted_during_treatment(pack):
    record = us_record(model.Dispense(D(2026, 10, 16), 30), *monthly_fill(D(2026, 11, 16), HOME))
    assert decide(record, "dispense", D(2026, 11, 17), pack).allowed


def test_a_positive_test_refuses_everything_even_after_a_negative_one():
    record = us_record(
        *monthly_fill(D(2026, 11, 16)), model.PregnancyTest(D(2026, 11, 17), POS, LAB)
    )
    for action in ("prescribe", "dispense", "start_course"):
        assert not decide(record, action, D(2026, 11, 18), "us-ipledge-2026").allowed


def test_one_window_authorises_one_fill():
    record = us_record(
        *monthly_fill(D(2026, 11, 16)),
        model.Dispense(D(2026, 11, 17), 30),
        model.Prescription(D(2026, 11, 19), 30),
        model.MedicationGuideAck(D(2026, 11, 19)),
    )
    decision = decide(record, "dispense", D(2026, 11, 19), "us-ipledge-2026")
    assert "pregnancy_test.window" in unmet(decision)


@pytest.mark.parametrize(
    ("methods", "allowed"),
    [
        ((ContraceptionMethod.IUD, ContraceptionMethod.MALE_CONDOM), True),
        ((ContraceptionMethod.IUD,), False),
        ((ContraceptionMethod.PROGESTIN_ONLY_PILL, ContraceptionMethod.MALE_CONDOM), False),
        ((ContraceptionMethod.ABSTINENCE,), True),
    ],
)
def test_us_patients_use_two_methods_or_abstinence(methods, allowed):
    record = dataclasses.replace(
        us_record(model.Dispense(D(2026, 10, 16), 30), *monthly_fill(D(2026, 11, 16))),
    )
    events = tuple(e for e in record.events if not isinstance(e, model.Contraception))
    record = dataclasses.replace(
        record, events=(model.Contraception(methods, D(2026, 8, 20)), *events)
    )
    assert decide(record, "dispense", D(2026, 11, 17), "us-ipledge-2026").allowed is allowed


def cannot_become_pregnant(visit: D) -> model.CourseRecord:
    return us_record(
        model.Dispense(D(2026, 10, 16), 30),
        model.Counselling(visit),
        model.Prescription(visit, 30),
        model.MedicationGuideAck(visit),
        can_become_pregnant=False,
    )


@pytest.mark.parametrize(("day", "allowed"), [(D(2026, 12, 6), True), (D(2026, 12, 7), False)])
def test_without_pregnancy_potential_the_fill_is_within_30_days_of_the_visit(day, allowed):
    record = cannot_become_pregnant(D(2026, 11, 7))  # day 30 is 6 Dec
    assert decide(record, "dispense", day, "us-ipledge-2023").allowed is allowed


def test_2026_asks_counselling_once_for_patients_who_cannot_become_pregnant():
    record = us_record(
        model.Dispense(D(2026, 10, 16), 30),
        model.Prescription(D(2026, 11, 20), 30),
        model.MedicationGuideAck(D(2026, 11, 20)),
        can_become_pregnant=False,
    )
    assert "counselling.monthly" in unmet(
        decide(record, "dispense", D(2026, 11, 20), "us-ipledge-2023")
    )
    assert decide(record, "dispense", D(2026, 11, 20), "us-ipledge-2026").allowed


def eu_record(
    test_day: D, prescription_day: D, jurisdiction=Jurisdiction.EU, *extra: model.Event
) -> model.CourseRecord:
    return model.CourseRecord(
        jurisdiction=jurisdiction,
        patient=model.PatientFacts(D(1996, 2, 11), True),
        course=model.CourseFacts(Product.ROACCUTANE),
        events=(
            model.Contraception((ContraceptionMethod.IMPLANT,), D(2026, 10, 1)),
            model.Consent(ConsentKind.ACKNOWLEDGEMENT_OF_RISK, D(2026, 11, 1)),
            model.MoodAssessment("phq9", 2, D(2026, 11, 1)),
            model.PregnancyTest(test_day, NEG, CLINIC),
            model.Counselling(prescription_day),
            model.Prescription(prescription_day, 30),
            *extra,
        ),
    )


@pytest.mark.parametrize(("test_day", "allowed"), [(D(2026, 11, 6), True), (D(2026, 11, 5), False)])
def test_eu_tests_at_most_3_days_before_the_prescription(test_day, allowed):
    record = eu_record(test_day, D(2026, 11, 9))
    assert decide(record, "prescribe", D(2026, 11, 9), "eu-ppp-2018", hour=10).allowed is allowed


@pytest.mark.parametrize(("day", "allowed"), [(D(2026, 11, 15), True), (D(2026, 11, 16), False)])
def test_eu_prescriptions_are_dispensed_within_7_days(day, allowed):
    record = eu_record(D(2026, 11, 9), D(2026, 11, 9))
    assert decide(record, "dispense", day, "eu-ppp-2018", hour=10).allowed is allowed


def test_the_uk_needs_the_acknowledgement_of_risk_form_even_without_pregnancy_potential():
    record = dataclasses.replace(
        eu_record(D(2026, 11, 9), D(2026, 11, 9), Jurisdiction.UK),
        patient=model.PatientFacts(D(1996, 2, 11), False),
    )
    events = tuple(e for e in record.events if not isinstance(e, model.Consent))
    refused = decide(
        dataclasses.replace(record, events=events), "prescribe", D(2026, 11, 9), "uk-mhra-2026"
    )
    assert unmet(refused) == {"consent.acknowledgement"}
    assert decide(record, "prescribe", D(2026, 11, 9), "uk-mhra-2026").allowed


def test_without_a_pack_the_one_in_force_on_that_day_applies():
    record = us_record(model.Dispense(D(2026, 10, 16), 30), *monthly_fill(D(2026, 11, 16)))
    assert decide(record, "dispense", D(2026, 11, 17), None).pack == "us-ipledge-2026"
    earlier = us_record(*monthly_fill(D(2026, 11, 10)))
    assert decide(earlier, "prescribe", D(2026, 11, 10), None).pack == "us-ipledge-2023"


def test_every_finding_is_reported_not_only_the_first():
    record = model.CourseRecord(
        Jurisdiction.US,
        model.PatientFacts(D(2000, 1, 1), True),
        model.CourseFacts(Product.CLARAVIS),
        (model.Prescription(D(2026, 11, 1), 60),),
    )
    decision = decide(record, "dispense", D(2026, 11, 2), "us-ipledge-2026")
    assert {
        "enrolment",
        "consent.informed",
        "consent.pregnancy_prevention",
        "contraception",
        "pregnancy_test.window",
        "comprehension",
        "medication_guide",
        "supply",
    } <= unmet(decision)


def test_every_rule_of_every_pack_has_a_source_and_a_known_type():
    for pack_id in RulePack:
        pack = load_pack(pack_id)
        assert pack.header.source.strip()
        for pack_rule in pack.rules:
            assert pack_rule.spec.source.strip() and pack_rule.spec.type in RULE_TYPES


def test_only_unconfirmed_rules_may_be_changed_by_a_clinic():
    pack = load_pack("us-ipledge-2026")
    relaxed = pack_with_settings(pack, {"visit_window": {"days": 60}})
    assert next(r for r in relaxed.rules if r.spec.id == "visit_window").rule.params.days == 60
    with pytest.raises(PackSettingError, match="confirmed"):
        pack_with_settings(pack, {"supply": {"max_days": 90}})
    with pytest.raises(PackSettingError, match="no rule"):
        pack_with_settings(pack, {"nonsense": {}})
    with pytest.raises(PackSettingError, match="unknown key 'weeks'"):
        pack_with_settings(pack, {"visit_window": {"weeks": 4}})


def test_a_pack_with_an_unknown_rule_type_or_key_is_refused(tmp_path, monkeypatch):
    from isoguard.core.knowledge import loading
    from isoguard.core.programs import packs

    (tmp_path / "rules").mkdir()
    source = (loading.KNOWLEDGE_DIR / "rules" / "eu-ppp-2018.toml").read_text()
    (tmp_path / "rules" / "eu-ppp-2018.toml").write_text(
        source.replace('type = "supply_limit"', 'type = "supply_cap"')
    )
    monkeypatch.setattr(loading, "KNOWLEDGE_DIR", tmp_path)
    packs.load_pack.cache_clear()
    try:
        with pytest.raises(KnowledgeError, match="unknown rule type 'supply_cap'"):
            packs.load_pack("eu-ppp-2018")
    finally:
        packs.load_pack.cache_clear()


# Invariants, for every pack: whatever else holds, these refuse a fill.
COMPLIANT = {
    RulePack.US_IPLEDGE_2023: lambda: us_record(
        model.Dispense(D(2026, 10, 16), 30), *monthly_fill(D(2026, 11, 16))
    ),
    RulePack.US_IPLEDGE_2026: lambda: us_record(
        model.Dispense(D(2026, 10, 16), 30), *monthly_fill(D(2026, 11, 16))
    ),
    RulePack.EU_PPP_2018: lambda: eu_record(D(2026, 11, 16), D(2026, 11, 16)),
    RulePack.UK_MHRA_2026: lambda: eu_record(D(2026, 11, 16), D(2026, 11, 16), Jurisdiction.UK),
}


@pytest.mark.parametrize("pack", list(RulePack))
def test_each_packs_compliant_record_is_allowed(pack):
    assert decide(COMPLIANT[pack](), "dispense", D(2026, 11, 17), pack).allowed


@settings(max_examples=60, deadline=None)
@given(
    pack=st.sampled_from(list(RulePack)),
    shift=st.integers(min_value=-60, max_value=60),
    supply=st.integers(min_value=31, max_value=120),
    drop=st.sampled_from(["test", "consent"]),
)
def test_no_fill_without_a_negative_test_in_the_window_consent_or_within_30_days(
    pack, shift, supply, drop
):
    record = COMPLIANT[pack]()
    day = D(2026, 11, 17)
    # Over 30 days' supply: refused.
    oversized = tuple(
        dataclasses.replace(e, days_supply=supply)
        if isinstance(e, model.Prescription) and e.date == D(2026, 11, 16)
        else e
        for e in record.events
    )
    assert not decide(dataclasses.replace(record, events=oversized), "dispense", day, pack).allowed
    # No test, or no consent: refused.
    kind = model.PregnancyTest if drop == "test" else model.Consent
    without = tuple(e for e in record.events if not isinstance(e, kind))
    assert not decide(dataclasses.replace(record, events=without), "dispense", day, pack).allowed
    # The test moved out of its window (more than 6 days before, or after, the fill): refused.
    if not -6 <= shift <= 0:
        moved = tuple(
            dataclasses.replace(e, specimen_date=day + dt.timedelta(days=shift))
            if isinstance(e, model.PregnancyTest) and e.specimen_date == D(2026, 11, 16)
            else e
            for e in record.events
        )
        assert not decide(dataclasses.replace(record, events=moved), "dispense", day, pack).allowed


def test_the_confirmation_test_comes_30_days_after_enrolment():
    early = us_record(*monthly_fill(D(2026, 10, 7)), first_dose=None)  # enrolled 8 Sep: day 29
    decision = decide(early, "start_course", D(2026, 10, 8), "us-ipledge-2026")
    assert "at least 30 days after enrolment" in next(
        f.message for f in decision.findings if f.rule == "pregnancy_test.window"
    )
    on_time = us_record(*monthly_fill(D(2026, 10, 8)), first_dose=None)
    assert decide(on_time, "start_course", D(2026, 10, 8), "us-ipledge-2026").allowed


def test_a_positive_and_a_negative_test_on_the_same_day_refuse():
    record = us_record(
        model.Dispense(D(2026, 10, 16), 30),
        *monthly_fill(D(2026, 11, 16)),
        model.PregnancyTest(D(2026, 11, 16), POS, LAB),
    )
    assert not decide(record, "dispense", D(2026, 11, 17), "us-ipledge-2026").allowed


def test_a_positive_test_during_treatment_is_not_undone_by_a_later_negative_one():
    record = us_record(
        model.Dispense(D(2026, 10, 16), 30),
        model.PregnancyTest(D(2026, 11, 10), POS, HOME),
        *monthly_fill(D(2026, 11, 16)),
    )
    assert not decide(record, "dispense", D(2026, 11, 17), "us-ipledge-2026").allowed


def test_two_methods_count_from_the_day_both_are_in_use():
    record = dataclasses.replace(
        us_record(*monthly_fill(D(2026, 11, 23)), first_dose=None, enrolled=D(2026, 8, 1))
    )
    events = tuple(e for e in record.events if not isinstance(e, model.Contraception))
    plans = (
        model.Contraception((ContraceptionMethod.IUD,), D(2026, 8, 1)),
        model.Contraception((ContraceptionMethod.MALE_CONDOM,), D(2026, 11, 10)),
    )
    record = dataclasses.replace(record, events=(*plans, *events))
    decision = decide(record, "start_course", D(2026, 11, 24), "us-ipledge-2026")
    assert "used together since 2026-11-10" in next(
        f.message for f in decision.findings if f.rule == "contraception"
    )


def test_nothing_is_allowed_after_the_last_dose():
    record = dataclasses.replace(
        us_record(model.Dispense(D(2026, 10, 16), 30), *monthly_fill(D(2026, 11, 16))),
        course=model.CourseFacts(Product.CLARAVIS, FIRST_DOSE, last_dose=D(2026, 11, 15)),
    )
    assert "course.not_ended" in unmet(
        decide(record, "dispense", D(2026, 11, 17), "us-ipledge-2026")
    )


def test_no_second_supply_while_the_first_still_covers_the_days():
    record = cannot_become_pregnant(D(2026, 11, 7))
    events = (
        *record.events,
        model.Dispense(D(2026, 11, 8), 30),
        model.Prescription(D(2026, 11, 12), 30),
        model.MedicationGuideAck(D(2026, 11, 12)),
        model.Counselling(D(2026, 11, 12)),
    )
    refused = decide(
        dataclasses.replace(record, events=events), "dispense", D(2026, 11, 13), "us-ipledge-2026"
    )
    assert "supply.no_overlap" in unmet(refused)


@pytest.mark.parametrize(
    ("methods", "allowed"),
    [
        ((ContraceptionMethod.IUD,), True),
        ((ContraceptionMethod.MALE_CONDOM,), False),
        ((ContraceptionMethod.MALE_CONDOM, ContraceptionMethod.DIAPHRAGM), True),
    ],
)
def test_eu_asks_one_highly_effective_method_or_two_complementary_ones(methods, allowed):
    record = eu_record(D(2026, 11, 9), D(2026, 11, 9))
    events = tuple(e for e in record.events if not isinstance(e, model.Contraception))
    record = dataclasses.replace(
        record, events=(model.Contraception(methods, D(2026, 10, 1)), *events)
    )
    assert decide(record, "prescribe", D(2026, 11, 9), "eu-ppp-2018").allowed is allowed


@pytest.mark.parametrize(("birth", "allowed"), [(D(2014, 11, 18), False), (D(2014, 11, 17), True)])
def test_the_patient_is_12_on_the_day(birth, allowed):
    record = dataclasses.replace(
        us_record(model.Dispense(D(2026, 10, 16), 30), *monthly_fill(D(2026, 11, 16))),
        patient=model.PatientFacts(birth, True),
    )
    decision = decide(record, "dispense", D(2026, 11, 17), "us-ipledge-2026")
    assert ("age.minimum" in unmet(decision)) is not allowed


def test_the_comprehension_questions_come_after_the_windows_test():
    fill = [e for e in monthly_fill(D(2026, 11, 16)) if not isinstance(e, model.Comprehension)]
    record = us_record(
        model.Dispense(D(2026, 10, 16), 30),
        *fill,
        model.Comprehension(D(2026, 11, 15), passed=True),
    )  # the day before
    assert unmet(decide(record, "dispense", D(2026, 11, 17), "us-ipledge-2026")) == {
        "comprehension"
    }


def test_a_prescription_already_dispensed_is_not_filled_again():
    record = us_record(*monthly_fill(D(2026, 11, 16)), model.Dispense(D(2026, 11, 16), 30))
    decision = decide(record, "dispense", D(2026, 11, 17), "us-ipledge-2026")
    assert "prescription.to_fill" in unmet(decision)


def test_the_uk_asks_a_mental_health_assessment_at_each_follow_up():
    record = eu_record(
        D(2026, 11, 9),
        D(2026, 11, 9),
        Jurisdiction.UK,
        model.Dispense(D(2026, 11, 10), 30),
        model.PregnancyTest(D(2026, 12, 8), NEG, CLINIC),
        model.Counselling(D(2026, 12, 8)),
        model.Prescription(D(2026, 12, 8), 30),
    )
    decision = decide(record, "prescribe", D(2026, 12, 8), "uk-mhra-2026")
    assert "assessment.mental_health" in unmet(decision)
    assessed = dataclasses.replace(
        record, events=(*record.events, model.MoodAssessment("phq9", 1, D(2026, 12, 8)))
    )
    assert decide(assessed, "prescribe", D(2026, 12, 8), "uk-mhra-2026").allowed


def test_the_uk_acknowledgement_of_risk_form_must_be_the_revised_one():
    record = eu_record(D(2026, 11, 9), D(2026, 11, 9), Jurisdiction.UK)
    old_form = tuple(
        dataclasses.replace(e, date=D(2025, 12, 1)) if isinstance(e, model.Consent) else e
        for e in record.events
    )
    decision = decide(
        dataclasses.replace(record, events=old_form), "prescribe", D(2026, 11, 9), "uk-mhra-2026"
    )
    assert "consent.acknowledgement" in unmet(decision)


def test_a_monthly_fill_a_few_days_before_the_supply_ends_is_allowed():
    # Filled 16 Oct for 30 days (to 14 Nov); the next month's fill on 13 Nov is a normal one.
    record = us_record(model.Dispense(D(2026, 10, 16), 30), *monthly_fill(D(2026, 11, 11)))
    assert decide(record, "dispense", D(2026, 11, 13), "us-ipledge-2026").allowed


def test_counselling_is_at_this_visit_not_last_months():
    fill = [e for e in monthly_fill(D(2026, 11, 11)) if not isinstance(e, model.Counselling)]
    record = us_record(
        model.Prescription(D(2026, 10, 13), 30),
        model.Counselling(D(2026, 10, 13)),
        model.Dispense(D(2026, 10, 16), 30),
        *fill,
    )
    assert "counselling.monthly" in unmet(
        decide(record, "dispense", D(2026, 11, 13), "us-ipledge-2023")
    )


def test_without_a_pack_the_edition_is_chosen_by_the_day_in_eastern_time():
    record = us_record(*monthly_fill(D(2026, 11, 14)))
    # 07:00 on 15 Nov in Tokyo is still 14 Nov in New York: the 2023 edition.
    tokyo = dt.datetime(2026, 11, 15, 7, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert evaluate(record, "prescribe", tokyo).pack == "us-ipledge-2023"
    # 22:30 on 14 Nov in Los Angeles is already 15 Nov in New York: the 2026 edition.
    la = dt.datetime(2026, 11, 14, 22, 30, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    assert evaluate(record, "prescribe", la).pack == "us-ipledge-2026"


@pytest.mark.parametrize("pack", ["eu-ppp-2018", "uk-mhra-2026"])
@pytest.mark.parametrize(
    "method", [ContraceptionMethod.COMBINED_PILL, ContraceptionMethod.MALE_CONDOM]
)
def test_a_separate_abstinence_record_does_not_make_a_weak_method_enough(pack, method):
    """In the EU and UK abstinence is no method: recorded beside a pill or a condom it must not
    stand in for the highly effective method (or the second method) the rule asks for."""
    record = eu_record(D(2026, 11, 9), D(2026, 11, 9))
    events = tuple(e for e in record.events if not isinstance(e, model.Contraception))
    both = (
        model.Contraception((method,), D(2026, 10, 1)),
        model.Contraception((ContraceptionMethod.ABSTINENCE,), D(2026, 10, 1)),
    )
    record = dataclasses.replace(record, events=(*both, *events), pack=pack)
    assert "contraception.effective" in unmet(decide(record, "prescribe", D(2026, 11, 9), pack))


def test_a_first_dose_long_after_the_fill_needs_a_new_test():
    """The window's test was used by the first fill: the first dose may follow from that fill's
    supply, not months later on the old test."""
    record = us_record(
        *monthly_fill(D(2026, 10, 8)), model.Dispense(D(2026, 10, 8), 30), first_dose=None
    )  # filled 8 Oct, 30 days
    in_supply = decide(record, "start_course", D(2026, 10, 20), "us-ipledge-2026")
    assert "pregnancy_test.window" not in unmet(in_supply)
    late = decide(record, "start_course", D(2027, 3, 1), "us-ipledge-2026")
    assert "pregnancy_test.window" in unmet(late)


def test_a_pack_with_no_rule_for_the_action_allows_nothing(monkeypatch):
    """No rule applying is a broken pack, never a licence (core/programs/__init__.py)."""
    from isoguard.core import programs

    real = programs.load_pack("us-ipledge-2026")
    monkeypatch.setattr(programs, "load_pack", lambda _pack: dataclasses.replace(real, rules=()))
    record = us_record(*monthly_fill(D(2026, 11, 2)))
    for action in (Action.PRESCRIBE, Action.DISPENSE):
        decision = decide(record, action, D(2026, 11, 3), "us-ipledge-2026")
        assert decision.findings == ()
        assert decision.allowed is False and decision.dispense_by is None


def test_the_decisions_and_the_timeline_read_applies_to_in_one_place():
    from isoguard.core.programs.packs import AppliesTo, load_pack
    from isoguard.core.vocabulary import RulePack

    for pack_id in RulePack:
        pack = load_pack(pack_id)
        can, cannot = pack.rules_for(True), pack.rules_for(False)
        assert pack.rules_for(None) == can  # not assessed: the stricter rules
        assert all(r.spec.applies_to != AppliesTo.CANNOT_BECOME_PREGNANT for r in can)
        assert all(r.spec.applies_to != AppliesTo.CAN_BECOME_PREGNANT for r in cannot)
        for action in Action:
            assert pack.rules_for(True, action) == [r for r in can if action in r.spec.actions]


METHODS = st.sampled_from(list(ContraceptionMethod))
PLANS = st.lists(
    st.builds(
        lambda methods, start, length: model.Contraception(
            tuple(methods), start=D(2026, 6, 1) + dt.timedelta(days=start),
            end=None if length is None else D(2026, 6, 1) + dt.timedelta(days=start + length),
        ),
        st.lists(METHODS, min_size=1, max_size=3, unique=True),
        st.integers(min_value=0, max_value=200),
        st.none() | st.integers(min_value=0, max_value=120),
    ),
    min_size=1, max_size=5,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(plans=PLANS, today=st.integers(min_value=0, max_value=260), needed=st.integers(1, 2))
def test_the_stretch_of_contraception_jumps_to_what_walking_back_a_day_at_a_time_finds(
    plans, today, needed
):
    """held_since asks once per stretch between plan changes; the answer is the daily walk's."""
    from isoguard.core.programs.context import Context
    from isoguard.core.programs.rules import held_since

    record = us_record(*plans)
    day = D(2026, 6, 1) + dt.timedelta(days=today)
    ctx = Context(record, Action.DISPENSE, at(day), "local")
    in_use = ctx.past(model.Contraception)

    def holds(on: D) -> bool:
        return len({m for e in in_use if e.covers(on) for m in e.methods}) >= needed

    if not holds(day):
        return
    first = min(e.start for e in in_use)
    walked = day
    while walked > first and holds(walked - dt.timedelta(days=1)):
        walked -= dt.timedelta(days=1)
    assert held_since(ctx, holds) == walked


def test_a_plan_that_never_ends_written_as_the_last_day_there_is_still_counts():
    """A scenario may write an open plan as 9999-12-31: no day after it to jump to."""
    from isoguard.core.programs.context import Context
    from isoguard.core.programs.rules import held_since

    plan = model.Contraception(
        (ContraceptionMethod.IUD, ContraceptionMethod.MALE_CONDOM),
        start=D(2026, 7, 1), end=dt.date.max,
    )  # fmt: skip
    ctx = Context(us_record(plan), Action.DISPENSE, at(D(2026, 11, 17)), "local")
    assert held_since(
        ctx, lambda day: any(e.covers(day) for e in ctx.past(model.Contraception))
    ) == D(2026, 7, 1)
