"""The `isoguard` command.

Commands of the pure core (`screen`, and as they are built `triage`, `plan`, `check`) run
without Django or a database. Every other command is a Django management command, so
`isoguard migrate`, `isoguard demo` and `isoguard createsuperuser` work from the installed package.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

USAGE_ERROR = 2
MAX_INPUT_BYTES = 1_000_000


class CliError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""


def read_json_file(path: str) -> object:
    """Return the JSON in `path`, or raise CliError saying what is wrong with the file."""
    file = Path(path)
    if not file.is_file():
        raise CliError(f"{path}: no such file")
    if file.stat().st_size > MAX_INPUT_BYTES:
        raise CliError(f"{path}: larger than {MAX_INPUT_BYTES} bytes")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CliError(f"{path}: not valid JSON: {error}") from None


def print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def screen_command(argv: list[str]) -> None:
    """`isoguard screen FILE.json`: screen one patient and print the result as JSON."""
    from isoguard.core.screening import screen
    from isoguard.core.screening_input import ScreeningInputError, screening_input_from_dict

    parser = argparse.ArgumentParser(
        prog="isoguard screen",
        description="Screen a patient for isotretinoin; print the outcome, findings and safe "
        "products as JSON. The input format is in docs/screening.md.",
    )
    parser.add_argument("file", help="a JSON file with the screening request")
    args = parser.parse_args(argv)
    try:
        given = screening_input_from_dict(read_json_file(args.file))
    except ScreeningInputError as error:
        raise CliError(f"{args.file}: {error}") from None
    print_json(screen(given).to_dict())


PLAN_OPTIONS = {
    "weight_kg": "--weight-kg",
    "product": "--product",
    "mg_per_kg_day": "--mg-per-kg-day",
    "target_mg_per_kg": "--target-mg-per-kg",
    "start": "--start",
}


def plan_command(argv: list[str]) -> None:
    """`isoguard plan --weight-kg W --product NAME ...`: print a dose and course plan as JSON."""
    import datetime as dt

    from isoguard.core.dosing import DosingError, default_mg_per_kg_day, plan_course
    from isoguard.core.dosing_data import load_dosing
    from isoguard.core.vocabulary import Product

    parser = argparse.ArgumentParser(
        prog="isoguard plan",
        description="Plan an isotretinoin course: the daily dose as real capsules in a morning "
        "and an evening dose, the days to the cumulative target, the last dose, the capsules of "
        "each 30-day fill. Prints JSON; docs/dosing.md explains it.",
    )
    parser.add_argument("--weight-kg", type=float, required=True, help="20 to 250 kg")
    parser.add_argument(
        "--product", required=True, help=f"one of: {', '.join(p.value for p in Product)}"
    )
    parser.add_argument(
        "--mg-per-kg-day",
        type=float,
        help="daily dose in mg/kg; default: the top of the product's usual label range, 1.0 "
        "(0.8 for absorica-ld); at most the label maximum, 2.0 (1.6 for absorica-ld)",
    )
    parser.add_argument(
        "--target-mg-per-kg",
        type=float,
        help="cumulative target in mg/kg, 60 to 220; default 120",
    )
    parser.add_argument("--start", help="first day of treatment, YYYY-MM-DD; default: today")
    args = parser.parse_args(argv)
    try:
        start = dt.date.fromisoformat(args.start) if args.start else dt.date.today()
    except ValueError:
        raise CliError(f"--start: {args.start!r} is not a date YYYY-MM-DD") from None
    try:
        dose = args.mg_per_kg_day
        if dose is None:
            dose = default_mg_per_kg_day(args.product)
        plan = plan_course(
            weight_kg=args.weight_kg,
            product=args.product,
            mg_per_kg_day=dose,
            target_mg_per_kg=args.target_mg_per_kg,
            start=start,
        )
    except DosingError as error:
        option = PLAN_OPTIONS.get(error.field, error.field)
        raise CliError(f"{option}: {error.message}") from None
    result = plan.to_dict()
    if args.mg_per_kg_day is None:
        note = load_dosing().note("default_dose")
        notes = result["notes"]
        assert isinstance(notes, list)
        notes.append(
            {"id": note.id, "message": note.message, "status": note.status.value,
             "source": note.source}
        )  # fmt: skip
    print_json(result)


def check_command(argv: list[str]) -> None:
    """`isoguard check SCENARIO.json` or `--jsonl FILE`: print the decision on each scenario."""
    # Imported before reading anything: a missing engine is a bug to see, not a usage error.
    from isoguard.core.programs import evaluate_scenario
    from isoguard.core.scenario import ScenarioError, iter_jsonl_scenarios, parse_scenario

    parser = argparse.ArgumentParser(
        prog="isoguard check",
        description="Decide whether a scenario's action (prescribe, dispense, start_course) is "
        "allowed under its programme's rules; print the decision and every finding as JSON. "
        "The scenario format is in DESIGN.md.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", help="a JSON file with one scenario")
    source.add_argument(
        "--jsonl",
        metavar="FILE",
        help="a file of one scenario a line; writes one decision a line, each with the "
        "scenario's id, and an error line for a scenario that cannot be read",
    )
    args = parser.parse_args(argv)
    if args.file is not None:
        try:
            print_json(evaluate_scenario(parse_scenario(read_json_file(args.file))))
        except ScenarioError as error:
            raise CliError(f"{args.file}: {error}") from None
        return

    path = Path(args.jsonl)
    if not path.is_file():
        raise CliError(f"{args.jsonl}: no such file")
    refused: list[str] = []
    with path.open("rb") as lines:
        for number, read in iter_jsonl_scenarios(lines, max_line_length=MAX_INPUT_BYTES):
            problem = read if isinstance(read, ScenarioError) else None
            if not isinstance(read, ScenarioError):
                try:
                    output = {"id": read.id, **evaluate_scenario(read)}
                except ScenarioError as raised:
                    raised.scenario_id = read.id
                    problem = raised
            if problem is not None:
                refused.append(f"line {number}: {problem.field}")
                output = {
                    "id": problem.scenario_id,
                    "error": {"field": problem.field, "message": problem.message},
                }
            sys.stdout.write(json.dumps(output, ensure_ascii=False) + "\n")
            sys.stdout.flush()
    if refused:
        raise CliError(
            f"{args.jsonl}: {len(refused)} scenario(s) could not be read: {'; '.join(refused)}"
        )


def triage_command(argv: list[str]) -> None:
    """`isoguard triage TEXT` or `isoguard triage --jsonl FILE`: triage what patients wrote."""
    from isoguard.core.triage import triage

    parser = argparse.ArgumentParser(
        prog="isoguard triage",
        description="Triage a side-effect report (docs/triage/RUBRIC.md); print JSON.",
    )
    parser.add_argument("text", nargs="?", help="what the patient wrote")
    parser.add_argument("--jsonl", help='a file of lines {"id", "text"}; one result a line')
    args = parser.parse_args(argv)
    if (args.text is None) == (args.jsonl is None):
        raise CliError("give either TEXT or --jsonl FILE")
    if args.text is not None:
        print_json(triage(args.text).to_dict())
        return
    path = Path(args.jsonl)
    if not path.is_file():
        raise CliError(f"{args.jsonl}: no such file")
    bad = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise ValueError('expected {"id", "text"} with text a string')
        except ValueError as error:
            bad.append(f"line {number}: {error}")
            sys.stdout.write(
                json.dumps({"id": None, "error": {"field": "text", "message": str(error)}}) + "\n"
            )
            continue
        result = {"id": row.get("id"), **triage(row["text"]).to_dict()}
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    if bad:
        raise CliError("; ".join(bad))


CORE_COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "triage": triage_command,
    "screen": screen_command,
    "plan": plan_command,
    "check": check_command,
}


def main(argv: list[str] | None = None) -> int:
    """Run the isoguard command line and return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    deploy_check = args[:1] == ["check"] and "--deploy" in args  # Django's, not the scenarios'
    if args and args[0] in CORE_COMMANDS and not deploy_check:
        try:
            CORE_COMMANDS[args[0]](args[1:])
        except CliError as error:
            print(f"isoguard {args[0]}: {error}", file=sys.stderr)
            return USAGE_ERROR
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "isoguard.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["isoguard", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
