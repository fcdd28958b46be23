"""What the operator's commands share: exit statuses, usage errors, the outcome summary.

Exit statuses follow docs/contracts.md: 0 green, 1 red, 2 error (contained), and 64 (EX_USAGE from
sysexits.h) for bad usage or unreadable input, so scripts can tell "your checker is broken"
from "you called me wrong". Argparse's own usage errors exit 2, which the contract reserves
for errors; ``UsageCommand`` makes them 64 too.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from checkers.sandbox import Outcome, Status

EX_USAGE = 64
EXIT_CODES = {Status.GREEN: 0, Status.RED: 1, Status.ERROR: 2}


class UsageParser(CommandParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        if self.called_from_command_line:
            self.print_usage(sys.stderr)
            self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")
        raise CommandError(f"Error: {message}", returncode=EX_USAGE)


class UsageCommand(BaseCommand):
    """A command whose bad usage exits 64, like its unreadable input."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = UsageParser
        return parser


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=EX_USAGE)


def summary(path: str, outcome: Outcome) -> str:
    lines = [f"{outcome.status.upper()}  {path}  ({outcome.duration_ms:.1f} ms, fuel {outcome.fuel_used:,})"]
    lines += [f"  {m.level:<4}  {m.text}" for m in outcome.messages]
    if outcome.error:
        lines.append(f"error: {outcome.error.detail}")
    if outcome.logs:
        lines.append("logs:")
        lines += [f"  {line}" for line in outcome.logs.splitlines()]
    return "\n".join(lines)
