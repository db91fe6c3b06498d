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


CORE_COMMANDS: dict[str, Callable[[list[str]], None]] = {"screen": screen_command}


def main(argv: list[str] | None = None) -> int:
    """Run the isoguard command line and return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in CORE_COMMANDS:
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
