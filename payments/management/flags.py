"""Flag types and a command base that reports bad flags in one line, changing nothing."""

import argparse
import sys
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import InterfaceError, OperationalError

from payments import services


def rate(value: str) -> float:
    """A success rate; its range is the service's."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    try:
        return services.check_success_rate(number)
    except services.InvalidValue as exc:
        raise argparse.ArgumentTypeError(f"{value} is outside {exc.low:g}-{exc.high:g} (use e.g. 0.9 for 90 %)") from None


def money(value: str) -> Decimal:
    """An amount such as 100000 or 250.50; the ledger's rule."""
    try:
        return services.check_money(value)
    except services.InvalidValue as exc:
        raise argparse.ArgumentTypeError(f"{value!r}: {exc}") from None


def timeout(value: str) -> float:
    """The live settings' timeout; its range is the service's."""
    number = seconds(value)
    try:
        return services.check_timeout(number)
    except services.InvalidValue as exc:
        raise argparse.ArgumentTypeError(f"{value} is outside {exc.low:g}-{exc.high:g} seconds") from None


def seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if number < 0 or number != number or number == float("inf"):
        raise argparse.ArgumentTypeError(f"{value} must be zero or more seconds")
    return number


def positive_seconds(value: str) -> float:
    number = seconds(value)
    if number == 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return number


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return number


def port(value: str) -> int:
    number = positive_int(value)
    if number > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port")
    return number


class SimulatorCommand(BaseCommand):
    """Bad flags exit 2 with `<command>: error: <what>` on one line, not argparse's usage dump."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def one_line_error(message: str) -> None:
            sys.stderr.write(f"{subcommand}: error: {message}\n")
            sys.exit(2)

        if getattr(self, "_called_from_command_line", False):
            parser.error = one_line_error  # type: ignore[method-assign]
        return parser

    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except (OperationalError, InterfaceError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CommandError(f"the database is unavailable ({reason}); check DATABASE_URL and that it is running") from None

    def add_settings_flags(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=timeout, default=None, help="seconds until a new payment settles (default 30)")
        parser.add_argument("--success-rate", type=rate, default=None, help="share of payments that succeed, 0-1 (default 0.9)")
        parser.add_argument("--seed", type=int, default=None, help="seed the outcome generator to replay a demo")
