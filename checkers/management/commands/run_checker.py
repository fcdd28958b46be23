"""Run one checker now, in this process: no broker, no worker (docs/contracts.md, "run_checker").

Exit status and ``--json`` are those of ``sandbox_run``, plus ``run_id`` and ``state``.
Notifications the run created are delivered before the command exits, so a cron-only
installation still alarms. ``--dry-run`` records nothing and alarms nobody.

``--repeat N`` runs the checker N times in this one process, each run recorded and alarmed
as usual, and reports what a warm run costs: the median, p90 and max of the whole run and of
its SQL time (see ``spread``). The exit status and the rest of ``--json`` are the last run's.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from checkers import history, runs
from checkers.management.cli import EXIT_CODES, UsageCommand, summary, usage_error
from checkers.models import Checker, CheckerKind, Trigger
from checkers.sandbox import Outcome
from checkers.signals import alarms_held, deliveries_requested, delivering_in_process


class Command(UsageCommand):
    help = "Run a checker now: NAMESPACE/CHECKER. Records the run and alarms, unless --dry-run."
    # A cron job starts this process every few minutes: the system checks would load every
    # URLconf, view and form to find nothing that `manage.py check` (run at deploy) did not.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("checker", metavar="NAMESPACE/CHECKER", help="the checker's namespace and slug")
        parser.add_argument(
            "--dry-run", action="store_true", help="evaluate only: record nothing, alarm nobody"
        )
        parser.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
        parser.add_argument(
            "--backtest",
            type=_days,
            metavar="DAYS",
            help="replay the rules over the stored figures of the last DAYS days; records nothing",
        )
        parser.add_argument(
            "--repeat",
            type=_runs,
            metavar="N",
            help="run N times in this process and report the median, p90 and max of the run and SQL times",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ref = options["checker"]
        if options["backtest"]:
            self.backtest(ref, options)
            return
        run_ms: list[float] = []
        sql_ms: list[float] = []
        for _ in range(options["repeat"] or 1):
            started = time.perf_counter()
            outcome, report, fetch_ms = self.run_once(_find(ref), dry_run=options["dry_run"])
            run_ms.append((time.perf_counter() - started) * 1000)
            sql_ms.append(fetch_ms)
        if report["held_alarms"]:
            self.stderr.write(
                f"{report['held_alarms']} alarm(s) of {ref} held: not delivered yet (a channel is "
                "failing or disabled); they wait in the outbox and go out when it works again."
            )
        timings = None
        if options["repeat"]:
            timings = {"runs": len(run_ms), "run_ms": spread(run_ms), "sql_ms": spread(sql_ms)}
        if options["json"]:
            self.stdout.write(json.dumps(report | ({"timings": timings} if timings else {})))
        else:
            self.stdout.write(summary(ref, outcome))
            if timings:
                self.stdout.write(timings_table(timings))
        code = EXIT_CODES[outcome.status]
        if code:
            self.stdout.flush()
            sys.exit(code)

    def run_once(self, checker: Checker, *, dry_run: bool) -> tuple[Outcome, dict[str, Any], float]:
        """Evaluate, then (unless a dry run) record and deliver: the outcome, its report, the SQL ms."""
        evaluation = runs.evaluate(checker)
        outcome = evaluation.outcome
        report = outcome.to_dict() | {"run_id": None, "state": str(outcome.status)}
        if not dry_run:
            in_process = delivering_in_process.set(True)
            try:
                run = runs.record(checker, evaluation, Trigger.MANUAL)
                deliveries_requested.send(sender=Checker, checker=checker, run=run)
            finally:
                delivering_in_process.reset(in_process)
            report |= {"run_id": str(run.uuid), "state": checker.current_state()}
        report["held_alarms"] = held_alarms(checker)
        return outcome, report, evaluation.fetch_ms

    def backtest(self, ref: str, options: dict[str, Any]) -> None:
        """Say how often each rule would have fired; exit 0, whatever the answer."""
        if options["repeat"] or options["dry_run"]:
            raise usage_error("--backtest records nothing already: it takes neither --repeat nor --dry-run")
        checker = _find(ref)
        if checker.kind != CheckerKind.RULE:
            raise usage_error(f"{ref} is a {checker.kind} checker: --backtest replays a rule checker's rules")
        days, rules = options["backtest"], [rule.spec() for rule in checker.rule_list()]
        tests = history.backtest_rules(checker, rules, days, timezone.now())
        if options["json"]:
            report = {"checker": ref, "days": days, "fired": sum(len(test.fired) for test in tests)}
            self.stdout.write(json.dumps(report | {"rules": [test.to_dict(checker.zone) for test in tests]}))
            return
        lines = [f"BACKTEST  {ref}  (last {days} day{'s' if days != 1 else ''}; nothing recorded)"]
        for test in tests:
            lines.append(f"  {test.rule.sentence()}: {test.headline()}")
            lines += [
                f"    {replay.at.astimezone(checker.zone):%Y-%m-%d %H:%M}  {replay.message.text}"
                for replay in test.fired
            ]
        self.stdout.write("\n".join(lines))


def _days(text: str) -> int:
    """Argparse reports the error as a usage error (exit 64), naming the option."""
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= 3650:
        raise argparse.ArgumentTypeError(f"must be a whole number of days from 1 to 3650, not {text!r}")
    return days


def held_alarms(checker: Checker) -> int:
    """Alarms build on checkers, not the other way round: they answer through a signal."""
    # The stubs type a receiver's answer as str | None; alarms' receiver answers a count.
    answers: list[tuple[Any, Any]] = alarms_held.send(sender=Checker, checker=checker)
    return sum(count for _, count in answers)


def _runs(text: str) -> int:
    """Argparse reports the error as a usage error (exit 64), naming the option."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of runs, 1 or more, not {text!r}")
    return count


def spread(values: list[float]) -> dict[str, float]:
    """Median (the mean of the two middle values when N is even), p90 and max, in ms.

    p90 is the nearest rank: the ⌈0.9·N⌉-th smallest value, so it is always a measured run
    (with fewer than 10 runs it is the max).
    """
    ordered = sorted(values)
    p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
    return {
        "median": round(statistics.median(ordered), 3),
        "p90": round(p90, 3),
        "max": round(ordered[-1], 3),
    }


def timings_table(timings: dict[str, Any]) -> str:
    rows = [f"{timings['runs']} runs, ms    median       p90       max"]
    for label, key in (("whole run", "run_ms"), ("SQL", "sql_ms")):
        figures = timings[key]
        rows.append(f"  {label:<12}{figures['median']:>9.1f} {figures['p90']:>9.1f} {figures['max']:>9.1f}")
    return "\n".join(rows)


def _find(ref: str) -> Checker:
    namespace, sep, slug = ref.partition("/")
    if not sep or not namespace or not slug:
        raise usage_error(f"{ref!r}: expected NAMESPACE/CHECKER, for example growth/few-null-emails")
    checker = Checker.objects.select_related("namespace").filter(namespace__slug=namespace, slug=slug).first()
    if checker is None:
        raise usage_error(f"no checker {slug!r} in namespace {namespace!r}")
    return checker
