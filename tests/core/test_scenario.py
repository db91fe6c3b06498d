"""A scenario is read strictly into core types: a bad field is refused, named, with what fits."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from isoguard.core.model import (
    Comprehension,
    Consent,
    Contraception,
    Counselling,
    Dispense,
    Enrolled,
    LabResult,
    LastDose,
    MedicationGuideAck,
    MoodAssessment,
    PatientFacts,
    PregnancyTest,
    Prescription,
)
from isoguard.core.scenario import (
    Scenario,
    ScenarioError,
    iter_jsonl_scenarios,
    parse_scenario,
    scenarios_from_jsonl,
)
from isoguard.core.vocabulary import (
    Action,
    ConsentKind,
    ContraceptionMethod,
    Jurisdiction,
    LabTest,
    MoodTool,
    PregnancyTestResult,
    PregnancyTestSetting,
    Product,
    RulePack,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "examples.jsonl"
EST = dt.timezone(dt.timedelta(hours=-5))

# The smallest dispense scenario that reads: the base every error case changes one thing in.
VALID = {
    "id": "s1",
    "jurisdiction": "US",
    "pack": "us-ipledge-2026",
    "as_of": "2026-12-10T15:00:00-05:00",
    "action": "dispense",
    "patient": {"birth_date": "2004-03-01", "can_become_pregnant": True},
    "course": {"product": "claravis", "first_dose": "2026-10-31"},
    "events": [
        {"type": "pregnancy_test", "specimen_date": "2026-12-05", "result": "negative",
         "setting": "home"},
        {"type": "prescription", "date": "2026-12-05", "days_supply": 30, "refills": 0},
    ],
}  # fmt: skip


def changed(**changes: object) -> dict[str, object]:
    return {**VALID, **changes}


def with_event(event: object) -> dict[str, object]:
    return changed(events=[event])


def without(key: str) -> dict[str, object]:
    return {k: v for k, v in VALID.items() if k != key}


def example(scenario_id: str) -> Scenario:
    read = dict((s.id, s) for _, s in scenarios_from_jsonl(EXAMPLES.read_text()))
    scenario = read[scenario_id]
    assert isinstance(scenario, Scenario)
    return scenario


def test_every_example_scenario_is_read():
    read = scenarios_from_jsonl(EXAMPLES.read_text())

    errors = [(line, s) for line, s in read if isinstance(s, ScenarioError)]
    assert errors == []
    assert [line for line, _ in read] == list(range(1, 25))
    assert [s.id for _, s in read] == [f"e{n:02}" for n in range(1, 25)]


def test_example_e01_is_read_field_by_field():
    e01 = example("e01")

    assert e01.jurisdiction is Jurisdiction.US and e01.pack is RulePack.US_IPLEDGE_2023
    assert e01.as_of == dt.datetime(2026, 11, 19, 15, 0, tzinfo=EST)
    assert e01.action is Action.DISPENSE
    assert e01.record.patient == PatientFacts(dt.date(1999, 4, 17), can_become_pregnant=True)
    assert e01.record.course.product is Product.CLARAVIS
    assert e01.record.course.first_dose == dt.date(2026, 10, 20)
    assert e01.record.course.last_dose is None
    assert (e01.record.jurisdiction, e01.record.pack) == (Jurisdiction.US, "us-ipledge-2023")
    negative, lab = PregnancyTestResult.NEGATIVE, PregnancyTestSetting.LAB
    assert e01.record.events == (
        Contraception(
            (ContraceptionMethod.COMBINED_PILL, ContraceptionMethod.MALE_CONDOM),
            start=dt.date(2026, 8, 20),
        ),
        Enrolled(dt.date(2026, 9, 8)),
        Consent(ConsentKind.INFORMED_CONSENT, dt.date(2026, 9, 8)),
        Consent(ConsentKind.PREGNANCY_PREVENTION, dt.date(2026, 9, 8)),
        PregnancyTest(dt.date(2026, 9, 8), negative, lab),
        Counselling(dt.date(2026, 9, 8)),
        LabResult(LabTest.TRIGLYCERIDES, 107.0, "mg/dL", dt.date(2026, 9, 8)),
        LabResult(LabTest.ALT, 28.0, "U/L", dt.date(2026, 9, 8)),
        PregnancyTest(dt.date(2026, 10, 16), negative, lab),
        Counselling(dt.date(2026, 10, 16)),
        Prescription(dt.date(2026, 10, 16), days_supply=30, refills=0),
        Comprehension(dt.date(2026, 10, 17), passed=True),
        MedicationGuideAck(dt.date(2026, 10, 19)),
        Dispense(dt.date(2026, 10, 19), days_supply=30),
        PregnancyTest(dt.date(2026, 11, 16), negative, lab),
        Counselling(dt.date(2026, 11, 16)),
        Prescription(dt.date(2026, 11, 16), days_supply=30, refills=0),
        Comprehension(dt.date(2026, 11, 17), passed=True),
        MedicationGuideAck(dt.date(2026, 11, 19)),
    )


def test_example_e02_has_a_course_not_yet_started():
    e02 = example("e02")
    assert e02.pack is RulePack.US_IPLEDGE_2026
    assert e02.record.course.first_dose is None
    negative, clinic = PregnancyTestResult.NEGATIVE, PregnancyTestSetting.CLINIC
    assert e02.record.events_of(PregnancyTest) == (
        PregnancyTest(dt.date(2026, 10, 26), negative, clinic),
        PregnancyTest(dt.date(2026, 12, 1), negative, clinic),
    )


def test_example_e20_reads_the_printed_phq9_name_and_lipids_in_mmol_per_litre():
    e20 = example("e20")
    assert (e20.jurisdiction, e20.pack) == (Jurisdiction.EU, RulePack.EU_PPP_2018)
    moods = e20.record.events_of(MoodAssessment)
    assert moods and all(m.tool is MoodTool.PHQ9 for m in moods)
    assert "mmol/L" in {lab.unit for lab in e20.record.events_of(LabResult)}


def test_optional_fields_may_be_left_out():
    scenario = parse_scenario(
        {
            **without("pack"),
            "id": None,
            "course": {"product": "sotret", "first_dose": None},
            "events": [
                {"type": "contraception", "methods": ["abstinence"], "start": "2026-09-01"},
                {"type": "prescription", "date": "2026-12-05", "days_supply": 30},
                {"type": "lab", "test": "alt", "value": 30, "date": "2026-12-05"},
            ],
        }
    )

    assert scenario.id is None and scenario.pack is None and scenario.record.pack is None
    assert scenario.record.course.first_dose is None
    contraception, prescription, lab = scenario.record.events
    assert contraception == Contraception((ContraceptionMethod.ABSTINENCE,), dt.date(2026, 9, 1))
    assert prescription == Prescription(dt.date(2026, 12, 5), days_supply=30, refills=0)
    assert lab == LabResult(LabTest.ALT, 30.0, "", dt.date(2026, 12, 5))


def test_expect_is_ignored_whatever_it_holds():
    scenario = parse_scenario(changed(expect={"allowed": True, "anything": [1, 2]}))
    assert scenario == parse_scenario(VALID)


def test_as_of_keeps_its_offset_and_accepts_z_for_utc():
    assert parse_scenario(VALID).as_of.utcoffset() == dt.timedelta(hours=-5)
    utc = parse_scenario(changed(as_of="2026-12-10T20:00:00Z")).as_of
    assert utc == dt.datetime(2026, 12, 10, 20, tzinfo=dt.UTC)


def test_a_patient_not_yet_assessed_for_pregnancy_is_read_as_none():
    scenario = parse_scenario(
        changed(patient={"birth_date": "2004-03-01", "can_become_pregnant": None})
    )
    assert scenario.record.patient.can_become_pregnant is None


def test_events_are_kept_in_date_order_whatever_the_order_given():
    scenario = parse_scenario(
        changed(
            events=[
                {"type": "counselling", "date": "2026-12-05"},
                {"type": "enrolled", "date": "2026-09-20"},
                {"type": "medication_guide_ack", "date": "2026-12-10"},
            ]
        )
    )
    assert [e.on for e in scenario.record.events] == [
        dt.date(2026, 9, 20),
        dt.date(2026, 12, 5),
        dt.date(2026, 12, 10),
    ]


def test_the_last_dose_event_also_ends_the_course():
    scenario = parse_scenario(
        with_event({"type": "last_dose", "date": "2027-03-01"}),
    )
    assert scenario.record.events == (LastDose(dt.date(2027, 3, 1)),)
    assert scenario.record.course.last_dose == dt.date(2027, 3, 1)


def test_a_mood_assessment_takes_the_slug_or_the_printed_name():
    for tool, expected in [("phq9", MoodTool.PHQ9), ("phq_a", MoodTool.PHQ_A),
                           ("PHQ-A", MoodTool.PHQ_A)]:  # fmt: skip
        event = {"type": "mood_assessment", "tool": tool, "score": 27, "date": "2026-12-05"}
        scenario = parse_scenario(with_event(event))
        assert scenario.record.events == (MoodAssessment(expected, 27, dt.date(2026, 12, 5)),)


TEST = {"type": "pregnancy_test", "specimen_date": "2026-12-05", "result": "negative",
        "setting": "lab"}  # fmt: skip
PILL = {"type": "contraception", "methods": ["combined_pill", "male_condom"], "start": "2026-09-01"}
RX = {"type": "prescription", "date": "2026-12-05", "days_supply": 30, "refills": 0}
LAB = {"type": "lab", "test": "triglycerides", "value": 150, "unit": "mg/dL", "date": "2026-12-05"}
MOOD = {"type": "mood_assessment", "tool": "phq9", "score": 4, "date": "2026-12-05"}


@pytest.mark.parametrize(
    ("scenario", "field", "message"),
    [
        # The scenario as a whole, and its top-level fields.
        ([VALID], "(scenario)", "must be a JSON object"),
        (changed(patient_name="Ann"), "patient_name", "unknown field; allowed: id, jurisdiction"),
        (changed(id=7), "id", "must be text"),
        (changed(jurisdiction="FR"), "jurisdiction", "must be one of US, EU, UK; got 'FR'"),
        (without("jurisdiction"), "jurisdiction", "is required: one of US, EU, UK"),
        (changed(pack="us-ipledge-2019"), "pack",
         "must be one of us-ipledge-2023, us-ipledge-2026, eu-ppp-2018, uk-mhra-2026"),
        (changed(pack="eu-ppp-2018"), "pack", "eu-ppp-2018 is a pack of EU, not of US"),
        (without("as_of"), "as_of", "is required: a date and time with its offset"),
        (changed(as_of="2026-12-10T15:00:00"), "as_of", "has no offset from UTC"),
        (changed(as_of="2026-12-10"), "as_of", "must be a date and time with its offset"),
        (changed(as_of="2026-12-10T25:00:00-05:00"), "as_of", "must be a date and time"),
        (changed(as_of=1765396800), "as_of", "must be a date and time"),
        (changed(action="refill"), "action",
         "must be one of prescribe, dispense, start_course; got 'refill'"),
        (without("action"), "action", "is required"),
        (without("events"), "events", "is required: a list"),
        (changed(events={"type": "enrolled"}), "events", "must be a list; got an object"),
        # The patient and the course.
        (without("patient"), "patient", "is required: an object"),
        (changed(patient="2004-03-01"), "patient", "must be a JSON object; got text"),
        (changed(patient={"birth_date": "2004-03-01"}), "patient.can_become_pregnant",
         "is required: true, false or null"),
        (changed(patient={"birth_date": "2004-03-01", "can_become_pregnant": "yes"}),
         "patient.can_become_pregnant", "must be true, false or null"),
        (changed(patient={"birth_date": "2004-02-30", "can_become_pregnant": True}),
         "patient.birth_date", "must be a date YYYY-MM-DD; got '2004-02-30'"),
        (changed(patient={"birth_date": "20040301", "can_become_pregnant": True}),
         "patient.birth_date", "must be a date YYYY-MM-DD"),
        (changed(patient={"birth_date": "2026-12-11", "can_become_pregnant": True}),
         "patient.birth_date", "is after the day of as_of (2026-12-10)"),
        (changed(patient={"birth_date": "2004-03-01", "can_become_pregnant": True, "sex": "F"}),
         "patient.sex", "unknown field; allowed: birth_date, can_become_pregnant"),
        (changed(course={"product": "isotret", "first_dose": None}), "course.product",
         "must be one of sotret, accutane, roaccutane, absorica, absorica-ld, amnesteem"),
        (changed(course={"first_dose": None}), "course.product", "is required"),
        (changed(course={"product": "sotret", "first_dose": "soon"}), "course.first_dose",
         "must be a date YYYY-MM-DD"),
        (changed(course={"product": "sotret", "number": 2}), "course.number", "unknown field"),
        # Events of any type.
        (with_event("enrolled"), "events[0]", "must be an object with a type: enrolled, consent"),
        (with_event({"date": "2026-12-05"}), "events[0].type", "is required: one of enrolled"),
        (with_event({"type": "vaccination", "date": "2026-12-05"}), "events[0].type",
         "must be one of enrolled, consent, contraception, pregnancy_test, counselling, "
         "comprehension, mood_assessment, lab, prescription, medication_guide_ack, dispense, "
         "last_dose; got 'vaccination'"),
        (changed(events=[RX, {"type": "enrolled"}]), "events[1].date", "is required: a date"),
        (with_event({"type": "enrolled", "date": "2026-12-05", "by": "Dr A"}), "events[0].by",
         "unknown field; allowed: type, date"),
        (with_event({"type": "consent", "kind": "verbal", "date": "2026-12-05"}),
         "events[0].kind",
         "must be one of informed_consent, pregnancy_prevention, acknowledgement_of_risk"),
        # Pregnancy tests.
        (with_event({**TEST, "specimen_date": "2026-13-01"}), "events[0].specimen_date",
         "must be a date YYYY-MM-DD"),
        (with_event({**TEST, "date": "2026-12-05"}), "events[0].date",
         "unknown field; allowed: type, specimen_date, result, setting"),
        (with_event({**TEST, "result": "pending"}), "events[0].result",
         "must be one of negative, positive; got 'pending'"),
        (with_event({k: v for k, v in TEST.items() if k != "setting"}), "events[0].setting",
         "is required: one of lab, clinic, home"),
        # Contraception.
        (with_event({**PILL, "methods": []}), "events[0].methods",
         "must list at least one method: iud, implant"),
        (with_event({**PILL, "methods": "iud"}), "events[0].methods", "must be a list"),
        (with_event({**PILL, "methods": ["abstinence", "male_condom"]}), "events[0].methods",
         "abstinence stands alone"),
        (with_event({**PILL, "methods": ["iud", "iud"]}), "events[0].methods[1]",
         "iud is listed twice"),
        (with_event({**PILL, "methods": ["iud", "pill"]}), "events[0].methods[1]",
         "must be one of iud, implant, injection, combined_pill"),
        (with_event({**PILL, "end": "2026-08-31"}), "events[0].end",
         "is before start (2026-09-01)"),
        (with_event({"type": "contraception", "methods": ["iud"]}), "events[0].start",
         "is required"),
        # Counselling and comprehension.
        (with_event({"type": "comprehension", "date": "2026-12-05", "passed": "yes"}),
         "events[0].passed", "must be true or false"),
        (with_event({"type": "comprehension", "date": "2026-12-05", "passed": 1}),
         "events[0].passed", "must be true or false"),
        (with_event({"type": "counselling", "date": None}), "events[0].date",
         "must be a date YYYY-MM-DD; got None"),
        # Prescriptions and dispenses: whole numbers, and a bool is not one.
        (with_event({**RX, "days_supply": True}), "events[0].days_supply",
         "must be a whole number from 1 up; got True"),
        (with_event({**RX, "days_supply": 30.5}), "events[0].days_supply", "whole number"),
        (with_event({**RX, "days_supply": 0}), "events[0].days_supply", "from 1 up; got 0"),
        (with_event({**RX, "refills": -1}), "events[0].refills", "from 0 up; got -1"),
        (with_event({**RX, "refills": None}), "events[0].refills", "whole number"),
        (with_event({"type": "dispense", "date": "2026-12-05", "days_supply": "30"}),
         "events[0].days_supply", "must be a whole number"),
        # Labs and mood.
        (with_event({**LAB, "test": "glucose"}), "events[0].test",
         "must be one of triglycerides, cholesterol_total, ldl, hdl, alt, ast"),
        (with_event({**LAB, "value": "high"}), "events[0].value", "must be a number, 0 or more"),
        (with_event({**LAB, "value": False}), "events[0].value", "must be a number"),
        (with_event({**LAB, "value": -1}), "events[0].value", "0 or more; got -1"),
        (with_event({**LAB, "value": float("nan")}), "events[0].value", "0 or more; got nan"),
        (with_event({**LAB, "unit": ""}), "events[0].unit", "is empty"),
        (with_event({**MOOD, "tool": "gad7"}), "events[0].tool",
         "must be one of phq9, phq_a, PHQ-9, PHQ-A; got 'gad7'"),
        (with_event({**MOOD, "score": 28}), "events[0].score", "from 0 to 27; got 28"),
        # The last dose: one per course, not before the first.
        (changed(events=[{"type": "last_dose", "date": "2027-03-01"},
                         {"type": "last_dose", "date": "2027-03-02"}]),
         "events[1]", "a course has one last_dose event"),
        (with_event({"type": "last_dose", "date": "2026-10-30"}), "events[0].date",
         "is before course.first_dose (2026-10-31)"),
    ],
)  # fmt: skip
def test_a_bad_field_is_refused_naming_it_and_what_is_allowed(scenario, field, message):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(scenario)
    assert caught.value.field == field
    assert message in caught.value.message
    assert str(caught.value) == f"{field}: {caught.value.message}"


def test_a_scenario_error_is_a_value_error_that_carries_the_scenario_id():
    with pytest.raises(ValueError, match="action: must be one of") as caught:
        parse_scenario(changed(action="refill"))
    assert isinstance(caught.value, ScenarioError)
    assert caught.value.scenario_id == "s1"


def test_jsonl_skips_blank_lines_numbers_lines_from_1_and_reads_on_after_a_bad_line():
    not_json = str(VALID)  # Python's repr: single quotes
    lines = [
        EXAMPLES.read_text().splitlines()[0],
        "",
        '{"id": "bad-action", "action": "refill"}',
        "   ",
        not_json,
        EXAMPLES.read_text().splitlines()[1],
    ]

    read = scenarios_from_jsonl("\n".join(lines) + "\n")

    assert [line for line, _ in read] == [1, 3, 5, 6]
    first, bad, broken, last = (s for _, s in read)
    assert isinstance(first, Scenario) and first.id == "e01"
    assert isinstance(bad, ScenarioError) and bad.scenario_id == "bad-action"
    assert isinstance(broken, ScenarioError) and broken.field == "(scenario)"
    assert broken.message.startswith("not valid JSON") and broken.scenario_id is None
    assert isinstance(last, Scenario) and last.id == "e02"


def test_jsonl_breaks_lines_only_at_newlines():
    text = EXAMPLES.read_text().splitlines()[0].replace('"id": "e01"', '"id": "e01\u2028"')
    [(line, scenario)] = scenarios_from_jsonl(text + "\r\n")
    assert line == 1 and isinstance(scenario, Scenario) and scenario.id == "e01\u2028"


def test_jsonl_names_the_id_of_a_line_refused_before_its_id_was_read():
    [(_, error)] = scenarios_from_jsonl('{"id": "x1", "colour": "red"}')
    assert isinstance(error, ScenarioError)
    assert (error.field, error.scenario_id) == ("colour", "x1")


def test_jsonl_reads_bytes_and_refuses_an_overlong_line_or_bad_utf8_without_stopping():
    first = EXAMPLES.read_bytes().splitlines()[0]
    lines = [first, b'{"id": "' + b"x" * len(first) + b'"}', b'{"id": "\xff"}', first]

    read = list(iter_jsonl_scenarios(lines, max_line_length=len(first)))

    assert [line for line, _ in read] == [1, 2, 3, 4]
    assert isinstance(read[0][1], Scenario) and isinstance(read[3][1], Scenario)
    too_long, not_utf8 = read[1][1], read[2][1]
    assert isinstance(too_long, ScenarioError) and "line longer than" in too_long.message
    assert isinstance(not_utf8, ScenarioError) and "not valid JSON" in not_utf8.message
