"""`isoguard token`: make, list and revoke the API tokens systems use (docs/integration.md).

isoguard token create --user USERNAME --name NAME [--days N]   prints the token, once
isoguard token list
isoguard token revoke PREFIX
isoguard token unthrottle ADDRESS    lift the throttle on refused tokens from an address now
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from isoguard.accounts.models import ApiToken, User
from isoguard.accounts.tokens import MAX_DAYS, token_create, token_revoke
from isoguard.security import token_throttle


class Command(BaseCommand):
    help = (
        "Make, list and revoke API tokens: a system (an EHR, a lab feed) authenticates to "
        "/fhir/R4/ and /api/v1/ with `Authorization: Bearer <token>` and acts as the token's user."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(
            dest="action", metavar="create|list|revoke|unthrottle", required=True
        )
        create = actions.add_parser(
            "create", help="make a token for a user and print it (only this once)"
        )
        create.add_argument("--user", required=True, help="the username the system acts as")
        create.add_argument("--name", required=True, help="what will use it, e.g. 'EHR feed'")
        create.add_argument(
            "--days", help=f"valid for this many days (1 to {MAX_DAYS}); default: until revoked"
        )
        actions.add_parser("list", help="list every token (never the secrets)")
        revoke = actions.add_parser("revoke", help="revoke a token at once")
        revoke.add_argument("prefix", help="the token's prefix, as `isoguard token list` shows")
        unthrottle = actions.add_parser(
            "unthrottle",
            help="end the count of refused tokens from an address now, so that its 429s stop "
            "(docs/security.md)",
        )
        unthrottle.add_argument("address", help="the client's IP address, as the audit shows it")

    def handle(self, *args: Any, **options: Any) -> None:
        match options["action"]:
            case "create":
                self.create(options)
            case "list":
                self.list()
            case "revoke":
                self.revoke(options["prefix"])
            case "unthrottle":
                self.unthrottle(options["address"])

    def create(self, options: dict[str, Any]) -> None:
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"--user: no user named {options['user']!r}")
        if not user.is_active:
            raise CommandError(f"--user: {user.username!r} is inactive")
        name = options["name"].strip()
        max_name = ApiToken._meta.get_field("name").max_length or 100
        if not name or len(name) > max_name:
            raise CommandError(f"--name: give a name of 1 to {max_name} characters")
        days = None
        if options["days"] is not None:
            try:
                days = int(options["days"])
            except ValueError:
                raise CommandError(f"--days: {options['days']!r} is not a whole number") from None
            if not 1 <= days <= MAX_DAYS:
                raise CommandError(f"--days: between 1 and {MAX_DAYS}")
        token, secret = token_create(user, name, days)
        until = f"until {_when(token.expires_at)}" if token.expires_at else "until revoked"
        self.stdout.write(secret)
        self.stderr.write(
            f"Token {token.prefix} for {user.username} ({user.role}), {until}. "
            "Store it now: it is not shown again. Send it as `Authorization: Bearer <token>`."
        )

    def list(self) -> None:
        tokens = ApiToken.objects.select_related("user").order_by("created_at", "pk")
        now = timezone.now()
        if not tokens:
            self.stdout.write("No API tokens.")
            return
        self.stdout.write(
            f"{'prefix':<9} {'state':<8} {'user':<20} {'created':<17} {'expires':<17} "
            f"{'last used':<17} name"
        )
        for token in tokens:
            self.stdout.write(
                f"{token.prefix:<9} {token.state(now):<8} {token.user.username:<20} "
                f"{_when(token.created_at):<17} {_when(token.expires_at):<17} "
                f"{_when(token.last_used_at):<17} {token.name}"
            )

    def revoke(self, prefix: str) -> None:
        prefix = prefix.strip()
        if not re.fullmatch(r"[0-9a-f]{8}", prefix):
            raise CommandError(f"PREFIX: {prefix!r} is not a token prefix (8 hex digits)")
        token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
        if token is None:
            raise CommandError(
                f"PREFIX: no token with prefix {prefix!r} (see `isoguard token list`)"
            )
        if token.revoked_at is not None:
            raise CommandError(f"PREFIX: token {token.prefix} was already revoked on "
                               f"{_when(token.revoked_at)}")  # fmt: skip
        token_revoke(token)
        self.stdout.write(f"Token {token.prefix} ({token.name}, {token.user.username}) revoked.")

    def unthrottle(self, address: str) -> None:
        try:
            address = str(ipaddress.ip_address(address.strip()))
        except ValueError:
            raise CommandError(f"ADDRESS: {address!r} is not an IP address") from None
        lifted = token_throttle.lift(address)
        was = lifted.throttle
        if not lifted.counted:
            raise CommandError(f"ADDRESS: no refused tokens are counted for {address}")
        if was is None:
            self.stdout.write(f"{address} was not throttled; its count of refused tokens is reset.")
        else:
            self.stdout.write(
                f"{address} is no longer throttled (it was until {_when(was.until)}, after "
                f"{was.failures} refused tokens)."
            )


def _when(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"
