"""`isoguard backup FILE`: a consistent copy of the database (operations/backup.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from isoguard.operations.backup import BackupError, backup, vendor


class Command(BaseCommand):
    help = (
        "Write a consistent copy of the database to FILE (SQLite file, or pg_dump's custom format)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path, head = backup(options["file"])
        except BackupError as error:
            raise CommandError(str(error)) from None
        # The backup's own head, not the live one, which moves on while the app serves: the hash
        # kept from this line must match what a restore of this file gives back.
        self.stdout.write(
            f"backed up the {vendor()} database to {path} ({path.stat().st_size} bytes); "
            f"audit head in the backup {head.seq} {head.hash}"
        )
