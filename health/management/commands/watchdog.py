"""``manage.py watchdog``: for cron or a systemd timer, not beat (which may be what stopped).

Finds late checkers (and alarms them, delivering in this process), reads the installation's
health, tells the operator channels what started or ended, and exits 1 when unhealthy.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from checkers.signals import delivering_in_process
from health import late, operator, status


class Command(BaseCommand):
    help = "Check the installation's health, alarm late checkers, tell operators; exit 1 when unhealthy."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        report = status.watchdog(now)
        opened = ended = 0
        if report.checks[0].ok:  # the database answers
            in_process = delivering_in_process.set(True)
            try:
                opened, ended = late.sweep(now)
            finally:
                delivering_in_process.reset(in_process)
            late.deliver_now(now)
        told = operator.tell(report, now)
        if options["json"]:
            self.stdout.write(
                json.dumps(report.as_json() | {"late": {"opened": opened, "ended": ended}, "told": told})
            )
        else:
            for check in report.checks:
                self.stdout.write(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
            for line in told:
                self.stdout.write(f"told operators: {line}")
        if not report.ok:
            self.stdout.flush()
            sys.exit(1)
