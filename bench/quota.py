"""Quota benchmark: what the worker-seconds check costs a run near the end of a busy hour.

    .venv/bin/python bench/quota.py [--runs 60000] [--checkers 1000] [--calls 200]

Makes a throwaway PostgreSQL database on 127.0.0.1:5432 (user postgres), ``malleable_bench_quota``,
with two namespaces of ``--checkers`` checkers each and ``--runs`` runs each, finished evenly
over the current clock hour's first 59 minutes (1,000 checkers a minute make 60,000). Then
times ``quotas.budget_spent`` for one namespace at minute 59, as one worker process would ask
it before each of its runs: the clock moves on by ``--gap`` seconds between calls (0.06 s: a
process taking every run of 1,000 a minute). Prints the first call, the median of the others
and this process's CPU for them, and one warm call's statements with their plans.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from support import setup_django

OWN_DB = "malleable_bench_quota"


def make_namespace(slug: str, checkers: int, runs: int, start: datetime):
    from checkers.models import Checker, CheckerKind, CheckRun, RunStatus, Trigger
    from namespaces.models import Namespace

    namespace = Namespace.objects.create(slug=slug, name=slug.title())
    made = Checker.objects.bulk_create(
        Checker(namespace=namespace, slug=f"c-{i}", name=f"C {i}", kind=CheckerKind.PYTHON, enabled=False)
        for i in range(checkers)
    )
    step = timedelta(minutes=59) / runs
    for first in range(0, runs, 10_000):
        CheckRun.objects.bulk_create(
            CheckRun(
                checker=made[i % checkers],
                trigger=Trigger.SCHEDULE,
                status=RunStatus.GREEN,
                queued=start + step * i,
                started=start + step * i,
                finished=start + step * i,
                duration_ms=5.0,
            )
            for i in range(first, min(runs, first + 10_000))
        )
    return namespace


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60_000)
    parser.add_argument("--checkers", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.06)
    args = parser.parse_args()
    setup_django(OWN_DB)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from checkers import quotas

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    namespace = make_namespace("bench", args.checkers, args.runs, start)
    make_namespace("other", args.checkers, args.runs, start)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    now = start + timedelta(minutes=59)
    began = time.perf_counter()
    quotas.budget_spent(namespace, now)
    first_ms = (time.perf_counter() - began) * 1000
    times = []
    cpu = time.process_time()
    for call in range(1, args.calls + 1):
        began = time.perf_counter()
        quotas.budget_spent(namespace, now + timedelta(seconds=args.gap * call))
        times.append((time.perf_counter() - began) * 1000)
    cpu_ms = (time.process_time() - cpu) * 1000 / args.calls
    with CaptureQueriesContext(connection) as queries:
        quotas.budget_spent(namespace, now + timedelta(seconds=args.gap * (args.calls + 1)))
    print(f"{args.runs:,} runs of namespace 'bench' and {args.runs:,} of another, this hour")
    print(f"first call {first_ms:.2f} ms; the next {args.calls}: median {statistics.median(times):.2f} ms")
    print(f"  of which this process's CPU, mean: {cpu_ms:.2f} ms")
    print(f"one warm call: {len(queries.captured_queries)} statement(s)")
    for query in queries.captured_queries:
        print(f"  {query['sql']}")
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {query['sql']}")
            print("\n".join(f"    {line}" for (line,) in cursor.fetchall()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
