"""Run one checker now, in this process: no broker, no worker (DESIGN.md, command line).

Exit status and ``--json`` are those of ``sandbox_run``, plus ``run_id`` and ``state``.
Notifications the run created are delivered before the command exits, so a cron-only
installation still alarms. ``--dry-run`` records nothing and alarms nobody.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import CommandParser

from checkers import runs
from checkers.management.cli import EXIT_CODES, UsageCommand, summary, usage_error
from checkers.models import Checker, Trigger
from checkers.signals import deliveries_requested, delivering_in_process


class Command(UsageCommand):
    help = "Run a checker now: NAMESPACE/CHECKER. Records the run and alarms, unless --dry-run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("checker", metavar="NAMESPACE/CHECKER", help="the checker's namespace and slug")
        parser.add_argument(
            "--dry-run", action="store_true", help="evaluate only: record nothing, alarm nobody"
        )
        parser.add_argument("--json", action="store_true", help="print the outcome as one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        checker = _find(options["checker"])
        evaluation = runs.evaluate(checker)
        outcome = evaluation.outcome
        report = outcome.to_dict() | {"run_id": None, "state": str(outcome.status)}
        if not options["dry_run"]:
            in_process = delivering_in_process.set(True)
            try:
                run = runs.record(checker, evaluation, Trigger.MANUAL)
                deliveries_requested.send(sender=Checker, checker=checker, run=run)
            finally:
                delivering_in_process.reset(in_process)
            report |= {"run_id": str(run.uuid), "state": checker.current_state()}
        if options["json"]:
            self.stdout.write(json.dumps(report))
        else:
            self.stdout.write(summary(options["checker"], outcome))
        code = EXIT_CODES[outcome.status]
        if code:
            self.stdout.flush()
            sys.exit(code)


def _find(ref: str) -> Checker:
    namespace, sep, slug = ref.partition("/")
    if not sep or not namespace or not slug:
        raise usage_error(f"{ref!r}: expected NAMESPACE/CHECKER, for example growth/few-null-emails")
    checker = Checker.objects.select_related("namespace").filter(namespace__slug=namespace, slug=slug).first()
    if checker is None:
        raise usage_error(f"no checker {slug!r} in namespace {namespace!r}")
    return checker
