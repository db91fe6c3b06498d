"""The `isoguard` command.

Commands of the pure core (added as they are built: `triage`, `plan`, `check`) run without
Django. Every other command is a Django management command, so `isoguard migrate`,
`isoguard demo` and `isoguard createsuperuser` all work from the installed package.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    """Run the isoguard command line and return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "isoguard.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["isoguard", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
