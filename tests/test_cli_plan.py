"""`isoguard plan`: the course plan as JSON, and exit status 2 with a reason for bad options."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import time_machine

from isoguard.cli import main

CLARAVIS_70_KG = ["plan", "--weight-kg", "70", "--product", "claravis", "--start", "2026-01-05"]


def run_plan(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, (json.loads(captured.out) if status == 0 else None), captured.err


def test_plan_prints_the_dose_the_capsules_and_the_end_date_as_json(capsys):
    status, plan, _ = run_plan([*CLARAVIS_70_KG, "--mg-per-kg-day", "1"], capsys)

    assert status == 0
    assert plan["product"] == "claravis"
    assert (plan["weight_kg"], plan["daily_mg"], plan["mg_per_kg_day"]) == (70, 70, 1)
    assert plan["doses"] == [
        {"time": "morning", "mg": 30, "capsules": [{"strength_mg": 30, "count": 1}]},
        {"time": "evening", "mg": 40, "capsules": [{"strength_mg": 40, "count": 1}]},
    ]
    assert plan["with_food"] is True
    assert (plan["target_mg_per_kg"], plan["days_to_target"]) == (120, 120)
    assert plan["end_date"] == "2026-05-04"
    assert plan["fill_30_days"] == [
        {"strength_mg": 40, "capsules": 30},
        {"strength_mg": 30, "capsules": 30},
    ]
    assert plan["warnings"] == []


def test_plan_defaults_to_the_top_of_the_usual_range_and_says_so(capsys):
    _, claravis, _ = run_plan(CLARAVIS_70_KG, capsys)
    _, ld, _ = run_plan(
        ["plan", "--weight-kg", "70", "--product", "absorica-ld", "--start", "2026-01-05"], capsys
    )

    assert (claravis["requested_mg_per_kg_day"], claravis["daily_mg"]) == (1, 70)
    assert (ld["requested_mg_per_kg_day"], ld["daily_mg"]) == (0.8, 56)
    assert ld["with_food"] is False
    assert "default_dose" in {n["id"] for n in ld["notes"]}
    assert "course_length" in {w["code"] for w in ld["warnings"]}  # 150 days: 21.4 weeks


def test_plan_with_a_dose_given_has_no_default_note(capsys):
    _, plan, _ = run_plan([*CLARAVIS_70_KG, "--mg-per-kg-day", "0.5"], capsys)
    assert "default_dose" not in {n["id"] for n in plan["notes"]}
    assert plan["daily_mg"] == 30  # 35 mg is halfway between 30 and 40: the lower


def test_plan_takes_a_cumulative_target(capsys):
    _, plan, _ = run_plan([*CLARAVIS_70_KG, "--target-mg-per-kg", "150"], capsys)
    assert (plan["target_mg_per_kg"], plan["days_to_target"]) == (150, 150)


def test_plan_starts_today_when_no_start_is_given(capsys):
    with time_machine.travel("2026-03-02 09:00 +00:00", tick=False):
        _, plan, _ = run_plan(["plan", "--weight-kg", "70", "--product", "claravis"], capsys)
    assert plan["start"] == "2026-03-02"


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (["--product", "acutane"], "--product: unknown product 'acutane'"),
        (["--weight-kg", "300"], "--weight-kg: 300 kg is not a weight"),
        (["--weight-kg", "19"], "allowed: 20 to 250 kg"),
        (["--mg-per-kg-day", "2.5"], "--mg-per-kg-day: 2.5 mg/kg/day is above the label maximum"),
        (
            ["--product", "absorica-ld", "--mg-per-kg-day", "1.7"],
            "above the label maximum of 1.6 mg/kg/day for Absorica LD",
        ),
        (["--target-mg-per-kg", "300"], "--target-mg-per-kg: 300 mg/kg"),
        (["--start", "05/01/2026"], "--start: '05/01/2026' is not a date"),
    ],
)
def test_plan_refuses_a_bad_option_with_exit_status_2_and_the_reason(options, reason, capsys):
    argv = [*CLARAVIS_70_KG, *options]  # a later option overrides the earlier one
    status, _, err = run_plan(argv, capsys)
    assert status == 2
    assert err.startswith("isoguard plan: ")
    assert reason in err


def test_plan_help_names_the_defaults(capsys):
    with pytest.raises(SystemExit) as done:
        main(["plan", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "default: the top of the product's usual label range, 1.0 (0.8 for absorica-ld)" in text
    assert "default 120" in text


def test_the_installed_command_plans_without_django_and_exits_2_on_a_bad_weight():
    code = (
        "import sys; from isoguard.cli import main; rc = main(sys.argv[1:]); "
        "assert not [m for m in sys.modules if m.startswith('django')]; sys.exit(rc)"
    )
    good = subprocess.run(
        [sys.executable, "-c", code, *CLARAVIS_70_KG], capture_output=True, text=True
    )
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["end_date"] == "2026-05-04"
    bad = subprocess.run(
        [sys.executable, "-c", code, *CLARAVIS_70_KG, "--weight-kg", "251"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert "--weight-kg" in bad.stderr
