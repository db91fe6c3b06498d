"""`isoguard restore FILE --yes`: replace the database's content with a backup's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from isoguard.audit.chain import verify
from isoguard.operations.backup import BackupError, restore


class Command(BaseCommand):
    help = (
        "Replace everything in the database with FILE, made by `isoguard backup`, log everyone "
        "out and audit the restore. Stop the app servers and the reminder worker first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--yes", action="store_true", help="confirm: all written since the backup is lost"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["yes"]:
            raise CommandError("--yes: confirm that everything written since the backup is lost")
        try:
            restored = restore(options["file"])
        except BackupError as error:
            raise CommandError(str(error)) from None
        backup_head, before = restored.backup_head, restored.head_before
        before_text = f"{before.seq} {before.hash}" if before else "unreadable"
        self.stdout.write(
            f"restored from {options['file']}; audit head in the backup {backup_head.seq} "
            f"{backup_head.hash}, before the restore {before_text}"
        )
        self.stdout.write(
            f"deleted every session ({restored.sessions_deleted}): everyone logs in again"
        )
        self.stdout.write(
            "API tokens revoked and two-factor devices removed after the backup was taken are "
            "back: revoke and remove them again (`isoguard token list`, docs/operations.md)"
        )
        # The whole chain, the restore's own event included.
        verdict = verify()
        if not verdict.ok:
            raise CommandError(f"restored, but the audit chain is broken at event "
                               f"{verdict.broken_at}: {verdict.message}")  # fmt: skip
        self.stdout.write(
            f"audit chain intact: {verdict.message}; head {verdict.head_seq} {verdict.head_hash}"
        )
