"""`isoguard demo`: create the demo clinic and print the logins."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from isoguard.accounts.models import User
from isoguard.demo import DEMO_PASSWORD, create_demo


class Command(BaseCommand):
    help = "Create a demo clinic, pharmacy, staff and six patients, and print their logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when the database already has users (used by `make run`)",
        )
        parser.add_argument("--today", help="the demo's today, YYYY-MM-DD (default: today)")

    def handle(self, *args: Any, **options: Any) -> None:
        if User.objects.exists():
            if options["if_empty"]:
                self.stdout.write("The database already has data; demo data not loaded.")
                return
            raise CommandError(
                "The database already has users. The demo needs an empty database: "
                "use a new DATABASE_URL, or delete var/isoguard.sqlite3 to start again."
            )
        today = timezone.localdate()
        if options["today"]:
            try:
                today = dt.date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError(
                    f"--today: {options['today']!r} is not a date YYYY-MM-DD"
                ) from None
        logins = create_demo(today)
        self.stdout.write(
            f"Demo data created for {today.isoformat()}. Every demo user's password "
            f"is: {DEMO_PASSWORD}"
        )
        width = max(len(login.username) for login in logins)
        for login in logins:
            self.stdout.write(f"  {login.username:<{width}}  {login.role:<14} {login.who}")
