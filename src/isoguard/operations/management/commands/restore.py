"""`isoguard restore FILE --yes`: replace the database's content with a backup's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from isoguard.audit.chain import verify
from isoguard.operations.backup import BackupError, restore


class Command(BaseCommand):
    help = ("Replace everything in the database with FILE, made by `isoguard backup`. Stop the "
            "app servers and the reminder worker first.")  # fmt: skip

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--yes", action="store_true", help="confirm: all written since the backup is lost"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["yes"]:
            raise CommandError("--yes: confirm that everything written since the backup is lost")
        try:
            restore(options["file"])
        except BackupError as error:
            raise CommandError(str(error)) from None
        verdict = verify()
        if not verdict.ok:
            raise CommandError(f"restored, but the audit chain is broken at event "
                               f"{verdict.broken_at}: {verdict.message}")  # fmt: skip
        self.stdout.write(f"restored from {options['file']}; audit chain intact: {verdict.message}")
