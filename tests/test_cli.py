"""The `isoguard` command: pure-core commands print JSON, and bad input exits 2 with a reason."""

from __future__ import annotations

import json
import subprocess
import sys

from isoguard.cli import main

REQUEST = {
    "as_of": "2026-11-25",
    "birth_date": "2004-06-01",
    "jurisdiction": "US",
    "diagnosis": "severe_recalcitrant_nodular_acne",
    "failed_treatments": ["oral_minocycline"],
    "can_become_pregnant": False,
    "allergies": ["parabens"],
    "medicines": ["minocycline 100 mg"],
}


def test_screen_prints_the_result_as_json(tmp_path, capsys):
    request = tmp_path / "patient.json"
    request.write_text(json.dumps(REQUEST))

    assert main(["screen", str(request)]) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["outcome"] == "eligible_with_cautions"
    assert {f["id"] for f in result["findings"]} == {
        "allergen:parabens",
        "interaction:tetracyclines",
        "us_enrolment",
    }
    assert "zenatane" in {p["product"] for p in result["excluded_products"]}


def test_screen_refuses_a_bad_field_with_exit_status_2(tmp_path, capsys):
    request = tmp_path / "patient.json"
    request.write_text(json.dumps({**REQUEST, "birth_date": "2030-01-01"}))

    assert main(["screen", str(request)]) == 2
    assert "birth_date: is in the future" in capsys.readouterr().err


def test_screen_refuses_a_missing_file_and_bad_json(tmp_path, capsys):
    assert main(["screen", str(tmp_path / "none.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["screen", str(broken)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_the_installed_command_screens_without_django_or_a_database(tmp_path):
    request = tmp_path / "patient.json"
    request.write_text(json.dumps(REQUEST))
    code = (
        "import sys; from isoguard.cli import main; rc = main(['screen', sys.argv[1]]); "
        "assert not [m for m in sys.modules if m.startswith('django')]; sys.exit(rc)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(request)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outcome"] == "eligible_with_cautions"
