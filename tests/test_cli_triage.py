"""`isoguard triage TEXT` and `isoguard triage --jsonl FILE`, as DESIGN.md specifies."""

from __future__ import annotations

import json

from isoguard.cli import main


def test_one_text_prints_one_json_result(capsys):
    assert main(["triage", "my urine has gone really dark"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["level"] == "stop_and_call" and result["concepts"] == ["dark_urine"]


def test_jsonl_writes_one_line_per_input_with_its_id(tmp_path, capsys):
    source = tmp_path / "reports.jsonl"
    source.write_text('{"id": "r1", "text": "lips dry"}\n\n{"id": "r2", "text": "all fine"}\n')
    assert main(["triage", "--jsonl", str(source)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["level"], r["concepts"]) for r in lines] == [
        ("r1", "self_care", ["dry_lips"]),
        ("r2", "none", []),
    ]


def test_a_bad_line_is_reported_and_the_rest_still_written(tmp_path, capsys):
    source = tmp_path / "reports.jsonl"
    source.write_text('{"id": "r1", "text": "lips dry"}\nnot json\n')
    assert main(["triage", "--jsonl", str(source)]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[0])["id"] == "r1" and "line 2" in err


def test_neither_or_both_arguments_is_a_usage_error(capsys):
    assert main(["triage"]) == 2
    assert "either TEXT or --jsonl" in capsys.readouterr().err
