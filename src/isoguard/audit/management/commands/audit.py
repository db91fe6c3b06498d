"""`isoguard audit verify`: check the whole audit hash chain and name the first broken link."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from isoguard.audit.chain import verify


class Command(BaseCommand):
    help = "The audit trail: `verify` checks the hash chain from the first event to the head."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"], help="verify: check the whole chain")

    def handle(self, *args: Any, **options: Any) -> None:
        verdict = verify()
        if not verdict.ok:
            raise CommandError(
                f"audit chain broken at event {verdict.broken_at}: {verdict.message}"
            )
        self.stdout.write(
            f"audit chain intact: {verdict.message}; head {verdict.head_seq} {verdict.head_hash}\n"
            "Keep the head's hash somewhere else (a log server, a signed report): a chain rebuilt "
            "by someone with write access to the database would then not match it."
        )
