"""`isoguard remind`: send every reminder that is due now, each exactly once.

Safe to run every few minutes from cron or a systemd timer, and twice at the same time: a
reminder already sent, or being sent by another run, is not sent again (docs/reminders.md). A
real run (not --dry-run, not --now) also works out the clinic worklist's stale per-course rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from isoguard.courses.worklist import refresh_stale
from isoguard.reminders.services import run_reminders
from isoguard.security import token_throttle

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Send the reminders due now (doses, tests, visits, windows closing, the mood "
        "questionnaire) by each patient's chosen channels, each exactly once; print a summary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            help="act as if it were this moment, ISO 8601 (e.g. 2026-11-26T08:05); without a "
            "UTC offset it is local time (ISOGUARD_TIME_ZONE). For testing.",
        )
        parser.add_argument(
            "--every",
            type=int,
            default=0,
            metavar="SECONDS",
            help="keep running as a worker: a run every SECONDS (at least 10) until stopped",
        )
        parser.add_argument(
            "--runs", type=int, default=0, help="with --every: stop after this many runs"
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="list what would be sent; send and record nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        every, runs = options["every"], options["runs"]
        if every and (options["now"] or every < 10):
            raise CommandError("--every: at least 10 seconds, and not with --now")
        if not every:
            self.run_once(options)
            return
        done = 0
        try:
            while not runs or done < runs:
                try:
                    self.run_once(options)
                except Exception:
                    logger.exception("isoguard remind: this run failed; the next one will retry")
                    self.stderr.write("this run failed (see the log); the next one will retry")
                done += 1
                if not runs or done < runs:
                    time.sleep(every)
        except KeyboardInterrupt:
            self.stdout.write("stopped")

    def run_once(self, options: dict[str, Any]) -> None:
        now = timezone.now()
        if options["now"]:
            try:
                now = dt.datetime.fromisoformat(options["now"])
            except ValueError:
                raise CommandError(
                    f"--now: {options['now']!r} is not a date and time, e.g. 2026-11-26T08:05"
                ) from None
            if timezone.is_naive(now):
                now = timezone.make_aware(now)
        summary = run_reminders(now, dry_run=options["dry_run"])
        for line in summary.planned:
            self.stdout.write(f"would send: {line}")
        line = summary.line()
        if not options["dry_run"] and not options["now"]:
            # The reminders are sent by now: a failure of the upkeep below is its own, logged,
            # and leaves the rest to run. The worklist's per-course rows go stale at midnight:
            # worked out here, not in the first page view of the day (courses/due.py); ended
            # windows of the API-token throttle refuse nothing: their rows go.
            line += _upkeep("worklist rows worked out again", lambda: refresh_stale(now))
            line += _upkeep("ended token-throttle windows removed",
                            lambda: token_throttle.prune(now))  # fmt: skip
        self.stdout.write(f"{timezone.localtime(now):%Y-%m-%d %H:%M %Z}: {line}")


def _upkeep(what: str, step: Callable[[], int]) -> str:
    """`; what: N` for the summary line, or, if the step fails, a line that says so (logged)."""
    try:
        return f"; {what}: {step()}"
    except Exception:
        logger.exception("isoguard remind: %s failed", what)
        return f"; {what}: failed (see the log)"
