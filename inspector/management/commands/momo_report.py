"""`manage.py momo_report [API_USER] [--json]`: the inspector's report card of an API user
(or of the 20 most recently active), each check with its verdict, evidence and fix."""

import json

from django.core.management.base import BaseCommand, CommandError

from inspector import report


class Command(BaseCommand):
    help = "The integration report card of an API user (or of the most recently active ones)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("api_user", nargs="?", default="", help="the API user's id (default: the 20 most recent)")
        parser.add_argument("--json", action="store_true", help="print the cards as JSON")

    def handle(self, *args, api_user: str = "", **options) -> None:
        users = [api_user] if api_user else report.users_seen(limit=20)
        cards = [card for card in (report.card(user) for user in users) if card is not None]
        if api_user and not cards:
            raise CommandError(f"No calls recorded for API user {api_user[:64]!r}.")
        if options["json"]:
            self.stdout.write(json.dumps({"cards": cards}, indent=2))
            return
        if not cards:
            self.stdout.write("No calls recorded yet.")
        for card in cards:
            self._print(card)

    def _print(self, card: dict) -> None:
        self.stdout.write(f"API user {card['api_user']}: {card['calls']} calls, {card['first']} .. {card['last']}")
        for check in card["checks"]:
            self.stdout.write(f"  {check['verdict'].upper():4}  {check['title']}: {check['evidence']}")
            if check["verdict"] != "pass":
                self.stdout.write(f"        fix: {check['fix']}")
        self.stdout.write("")
