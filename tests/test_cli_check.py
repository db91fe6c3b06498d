"""`isoguard check`: the decision on a scenario as JSON, one line per scenario with --jsonl, and
exit status 2 naming the field of a scenario that cannot be read.

The rule engine is faked at its boundary, `isoguard.core.programs.evaluate_scenario`, so these
tests are about reading scenarios and writing decisions, not about the rules.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from isoguard.cli import main
from isoguard.core.scenario import Scenario, ScenarioError

EXAMPLES = Path(__file__).resolve().parent / "data" / "scenarios" / "examples.jsonl"
FIRST, SECOND = EXAMPLES.read_text().splitlines()[:2]


class FakeEngine:
    """Stands in for the rule engine: allows everything, and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[Scenario] = []

    def evaluate_scenario(self, scenario: Scenario) -> dict[str, object]:
        self.asked.append(scenario)
        if scenario.id == "engine-refuses":
            raise ScenarioError("events[0]", "the engine cannot read this")
        return {
            "id": scenario.id,
            "allowed": True,
            "pack": scenario.pack,
            "dispense_by": "2026-12-11",
            "findings": [],
        }


@pytest.fixture
def engine(monkeypatch):
    fake = FakeEngine()
    module = types.ModuleType("isoguard.core.programs")
    module.evaluate_scenario = fake.evaluate_scenario  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "isoguard.core.programs", module)
    return fake


def run(argv, capsys):
    status = main(["check", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_check_prints_the_engines_decision_on_one_scenario_as_json(tmp_path, capsys, engine):
    scenario = tmp_path / "e01.json"
    scenario.write_text(FIRST)

    status, out, _ = run([str(scenario)], capsys)

    assert status == 0
    assert json.loads(out) == {
        "id": "e01",
        "allowed": True,
        "pack": "us-ipledge-2023",
        "dispense_by": "2026-12-11",
        "findings": [],
    }
    [asked] = engine.asked
    assert asked.id == "e01" and len(asked.record.events) == 19


def test_check_jsonl_writes_one_compact_line_per_example_with_its_id(capsys, engine):
    status, out, err = run(["--jsonl", str(EXAMPLES)], capsys)

    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [f"e{n:02}" for n in range(1, 25)]
    assert all(json.loads(line)["allowed"] is True for line in lines)
    assert lines[0].startswith('{"id": "e01", "allowed": true,')


def test_check_jsonl_writes_an_error_line_for_a_bad_scenario_and_goes_on(tmp_path, capsys, engine):
    bad = json.loads(SECOND) | {"id": "bad-test", "as_of": "2026-12-03"}
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join([FIRST, json.dumps(bad), "", "{not json", SECOND]) + "\n")

    status, out, err = run(["--jsonl", str(batch)], capsys)

    assert status == 2
    first, refused, broken, last = (json.loads(line) for line in out.splitlines())
    assert (first["id"], first["allowed"]) == ("e01", True)
    assert refused["id"] == "bad-test" and refused["error"]["field"] == "as_of"
    assert "with its offset" in refused["error"]["message"]
    assert broken["id"] is None and broken["error"]["field"] == "(scenario)"
    assert (last["id"], last["allowed"]) == ("e02", True)
    assert [s.id for s in engine.asked] == ["e01", "e02"]
    assert "2 scenario(s) could not be read: line 2: as_of; line 4: (scenario)" in err


def test_check_jsonl_reports_a_scenario_the_engine_cannot_read_as_an_error_line(
    tmp_path, capsys, engine
):
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps(json.loads(FIRST) | {"id": "engine-refuses"}) + "\n" + SECOND)

    status, out, _ = run(["--jsonl", str(batch)], capsys)

    assert status == 2
    refused, last = (json.loads(line) for line in out.splitlines())
    assert refused == {
        "id": "engine-refuses",
        "error": {"field": "events[0]", "message": "the engine cannot read this"},
    }
    assert last["id"] == "e02"


def test_check_refuses_a_missing_file_with_exit_status_2(tmp_path, capsys, engine):
    for argv in ([str(tmp_path / "none.json")], ["--jsonl", str(tmp_path / "none.jsonl")]):
        status, out, err = run(argv, capsys)
        assert (status, out) == (2, "")
        assert "no such file" in err
    assert engine.asked == []


def test_check_refuses_a_file_that_is_not_json_with_exit_status_2(tmp_path, capsys, engine):
    broken = tmp_path / "broken.json"
    broken.write_text("{")

    status, _, err = run([str(broken)], capsys)

    assert status == 2
    assert "not valid JSON" in err


def test_check_refuses_a_malformed_scenario_naming_the_field(tmp_path, capsys, engine):
    data = json.loads(FIRST)
    data["events"][4]["specimen_date"] = "2026-09-31"
    scenario = tmp_path / "e01.json"
    scenario.write_text(json.dumps(data))

    status, out, err = run([str(scenario)], capsys)

    assert (status, out) == (2, "")
    assert err.startswith("isoguard check: ")
    assert "events[4].specimen_date: must be a date YYYY-MM-DD; got '2026-09-31'" in err
    assert engine.asked == []


@pytest.mark.parametrize("argv", [[], ["a.json", "--jsonl", "b.jsonl"]])
def test_check_needs_exactly_one_scenario_file_or_jsonl_file(argv, capsys, engine):
    with pytest.raises(SystemExit) as caught:
        main(["check", *argv])
    assert caught.value.code == 2
    assert "usage: isoguard check" in capsys.readouterr().err


def test_a_missing_rule_engine_is_an_error_not_a_refusal(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "isoguard.core.programs", None)
    scenario = tmp_path / "e01.json"
    scenario.write_text(FIRST)

    with pytest.raises(ImportError):
        main(["check", str(scenario)])


def test_the_real_engine_decides_every_worked_example_through_the_command(tmp_path):
    """End to end, no fake: `isoguard check --jsonl` prints the expected decision per line."""
    import subprocess
    import sys
    from pathlib import Path

    examples = Path(__file__).parent / "data" / "scenarios" / "examples.jsonl"
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from isoguard.cli import main; sys.exit(main())",
         "check", "--jsonl", str(examples)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    decisions = [json.loads(line) for line in result.stdout.splitlines()]
    expected = [json.loads(line) for line in examples.read_text().splitlines()]
    assert [d["id"] for d in decisions] == [e["id"] for e in expected]
    for decision, example in zip(decisions, expected, strict=True):
        assert decision["allowed"] is example["expect"]["allowed"], example["id"]
        assert decision["dispense_by"] == example["expect"].get("dispense_by"), example["id"]
