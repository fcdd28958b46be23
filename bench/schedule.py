"""Load harness: N rule checkers due every minute, a real beat and worker, for M minutes.

    .venv/bin/python bench/schedule.py --checkers 1000 --minutes 5 [--workers 2] [--rows 1000]

Makes two throwaway PostgreSQL databases on 127.0.0.1:5432 (user postgres): Malleable's own
(``malleable_bench_schedule``) and the "shop" its checkers read. Every checker runs every
60 s, their slots spread evenly over the minute (as checkers made at different moments are);
the first slots fall after a warm-up, so the worker's start is not counted. Then a Celery
beat and a worker of K processes, two separate processes as in production (docs/deploy.md),
run on RabbitMQ until the last slot of the M minutes is due; the harness waits for the last
runs and stops both.

Prints runs per minute, the lag from a slot's due time to its run's start (p50, p99, max),
slots skipped (due in the window, never run) and doubled (run twice), runs left unfinished,
the worker's peak RSS (all its processes), and the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from support import BROKER, DATASOURCES_ON_THIS_MACHINE, ROOT, SERVER, recreate, setup_django, stop

OWN_DB = "malleable_bench_schedule"
SHOP_DB = "malleable_bench_schedule_shop"
QUEUE = f"bench-schedule-{uuid.uuid4().hex[:8]}"
WARM_UP_S = 20
DRAIN_S = 600


def make_shop(rows: int) -> None:
    recreate(SHOP_DB)
    with psycopg.connect(f"{SERVER}/{SHOP_DB}") as shop:
        shop.execute("CREATE TABLE users (id int PRIMARY KEY, username text, email text)")
        shop.execute(
            "INSERT INTO users SELECT i, 'user' || i,"
            " CASE WHEN i %% 10 = 0 THEN NULL ELSE 'u' || i || '@x.io' END FROM generate_series(1, %s) AS i",
            (rows,),
        )


def make_checkers(count: int, first_slot: datetime) -> None:
    """``count`` rule checkers every 60 s, checker i first due at ``first_slot + i * 60 / count``."""
    from checkers.models import Checker, CheckerRule, Dataset, Datasource
    from namespaces.models import Namespace

    namespace = Namespace.objects.create(slug="bench", name="Bench")
    source = Datasource.objects.create(
        namespace=namespace, slug="shop", engine="postgresql", url=f"{SERVER}/{SHOP_DB}", max_concurrency=8
    )
    dataset = Dataset.objects.create(
        namespace=namespace, slug="users", datasource=source, sql="SELECT * FROM users"
    )
    checkers = Checker.objects.bulk_create(
        Checker(
            namespace=namespace,
            slug=f"rule-{i}",
            name=f"Rule {i}",
            kind="rule",
            schedule_every=60,
            next_run_at=first_slot + timedelta(seconds=i * 60 / count),
        )
        for i in range(count)
    )
    CheckerRule.objects.bulk_create(
        CheckerRule(checker=checker, dataset=dataset, metric="null_count", column="email", op="<", value=500)
        for checker in checkers
    )


def start(*args: str, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "--app", "malleable", *args, "--loglevel", "WARNING"]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def group_rss_mb(leader: int) -> float:
    """Resident memory of a process and its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        rss[int(entry.name)] = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
    members, grew = {leader}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in members} - members
        members |= more
        grew = bool(more)
    return sum(rss.get(pid, 0) for pid in members) / 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(count: int, first_slot: datetime, end: datetime, minutes: int, peak_rss: float) -> None:
    from django.db.models import Max, Min

    from checkers.models import Checker, CheckRun

    expected = Counter()
    for checker in Checker.objects.all():
        slot = first_slot + timedelta(seconds=int(checker.slug.split("-")[1]) * 60 / count)
        while slot < end:
            expected[(checker.pk, slot)] += 1
            slot += timedelta(seconds=60)
    scheduled = CheckRun.objects.filter(trigger="schedule", scheduled_for__lt=end)
    seen = Counter(scheduled.values_list("checker_id", "scheduled_for"))
    started = scheduled.exclude(started=None).values_list("scheduled_for", "started", "status")
    lags = [(begun - due).total_seconds() for due, begun, _ in started]
    statuses = Counter(status for _, _, status in started)
    print(
        f"\n{count} rule checkers due every minute, {minutes} min,"
        f" slots {first_slot:%H:%M:%S}-{end:%H:%M:%S} UTC"
    )
    print(f"  runs: {len(seen)} slots run of {len(expected)} due; statuses {dict(statuses)}")
    span = scheduled.aggregate(first=Min("started"), last=Max("finished"))
    if span["first"] and span["last"]:
        in_window = scheduled.filter(started__lt=end).count()
        rate = len(lags) / (span["last"] - span["first"]).total_seconds() * 60
        print(
            f"  runs per minute: {in_window / minutes:.0f} started within the window,"
            f" {rate:.0f} from the first start to the last finish"
        )
    if lags:
        print(
            f"  lag, due to start: p50 {statistics.median(lags):.2f} s, p99 {percentile(lags, 0.99):.2f} s,"
            f" max {max(lags):.2f} s (target p99 <= 2 s, max <= 5 s)"
        )
    dispatched = [
        (queued - due).total_seconds() for due, queued in scheduled.values_list("scheduled_for", "queued")
    ]
    if dispatched:
        print(
            f"  dispatch lag, due to queued: p50 {statistics.median(dispatched):.2f} s,"
            f" p99 {percentile(dispatched, 0.99):.2f} s, max {max(dispatched):.2f} s"
        )
    print(f"  skipped slots: {len(set(expected) - set(seen))}")
    print(f"  doubled slots: {sum(n - 1 for n in seen.values() if n > 1)}")
    print(f"  unfinished runs: {scheduled.filter(finished=None).count()}")
    print(f"  worker peak RSS: {peak_rss:.0f} MB")
    print(f"  load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkers", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (--concurrency)")
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    make_shop(args.rows)
    setup_django(OWN_DB, CELERY_BROKER_URL=BROKER, MALLEABLE_TASK_QUEUE=QUEUE, **DATASOURCES_ON_THIS_MACHINE)
    from django.utils import timezone

    first_slot = timezone.now().replace(microsecond=0) + timedelta(seconds=WARM_UP_S)
    end = first_slot + timedelta(minutes=args.minutes)
    make_checkers(args.checkers, first_slot)
    logs = Path(tempfile.mkdtemp(prefix="bench-schedule-"))
    worker = start(
        "worker",
        "--concurrency",
        str(args.workers),
        "--without-gossip",
        "--without-mingle",
        log=logs / "worker.log",
    )
    beat = start("beat", "--schedule", str(logs / "beat-schedule"), log=logs / "beat.log")
    peak_rss = 0.0
    try:
        while timezone.now() < end + timedelta(seconds=2):
            if worker.poll() is not None or beat.poll() is not None:
                raise RuntimeError(f"the worker or beat died; see {logs}")
            peak_rss = max(peak_rss, group_rss_mb(worker.pid))
            time.sleep(1)
        stop(beat)
        from checkers.models import CheckRun

        deadline = time.monotonic() + DRAIN_S
        while CheckRun.objects.filter(finished=None).exists() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        if beat.poll() is None:
            stop(beat)
        stop(worker)
    report(args.checkers, first_slot, end, args.minutes, peak_rss)
    print(f"  logs: {logs}")


if __name__ == "__main__":
    main()
