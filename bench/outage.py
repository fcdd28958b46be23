"""The outage scenario's timeline: beat stops, checkers go late, the watchdog tells, beat returns.

    .venv/bin/python bench/outage.py [--stopped 30] [--watchdog-every 5]

Real parts on this machine: a throwaway PostgreSQL database for Malleable
(``malleable_bench_outage``) and one for the shop the checkers read, RabbitMQ, a Celery worker
and a separate ``celery beat``, and a webhook receiver on 127.0.0.1 that is both the namespace's
default channel (``/namespace``) and the operator channel (``/operator``). The bench plays cron:
it runs ``manage.py watchdog --json`` every ``--watchdog-every`` seconds in its own process.

Time is scaled down so the story takes a minute or two, not a quarter of an hour: checkers every
10 s (so their grace is 10 s), a dispatch tick every second, "scheduler stopped" after 10 s
without one, sweeps every 2 s. At the defaults the same steps take minutes (docs/health.md).

It prints each step with its time after beat was stopped: the last dispatcher tick, when the
watchdog first saw the scheduler stopped, when each checker went late and its ``late`` alarm
arrived, when the operator heard, when beat came back and ticked, and when ``resolved`` and
``recovered`` arrived.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from support import BROKER, DATASOURCES_ON_THIS_MACHINE, ROOT, SERVER, recreate, setup_django, stop

OWN_DB = "malleable_bench_outage"
SHOP_DB = "malleable_bench_outage_shop"
EVERY_S = 10
WAIT_S = 180


class Receiver:
    """Every POST with the moment it arrived (time.time()), by path."""

    def __init__(self) -> None:
        self.received: list[tuple[float, str, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.received.append((time.time(), self.path, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def got(self, path: str, event: str) -> list[tuple[float, dict[str, Any]]]:
        return [(at, body) for at, where, body in self.received if where == path and body["event"] == event]


def make_shop() -> None:
    recreate(SHOP_DB)
    with psycopg.connect(f"{SERVER}/{SHOP_DB}") as shop:
        shop.execute("CREATE TABLE users (id int PRIMARY KEY, email text)")
        shop.execute(
            "INSERT INTO users SELECT i, CASE WHEN i % 10 = 0 THEN NULL ELSE 'u' || i || '@x.io' END"
            " FROM generate_series(1, 100) AS i"
        )


def start_django(receiver: Receiver, folder: Path) -> None:
    """Django on a fresh database, with every interval shortened to seconds."""
    setup_django(
        OWN_DB,
        CELERY_BROKER_URL=BROKER,
        MALLEABLE_TASK_QUEUE=f"outage-{uuid.uuid4().hex[:8]}",
        MALLEABLE_CHANNEL_ALLOWED_HOSTS="127.0.0.1",
        MALLEABLE_DISPATCH_INTERVAL="1",
        MALLEABLE_ALARM_SWEEP_INTERVAL="2",
        MALLEABLE_LATE_GRACE="5",
        MALLEABLE_HEARTBEAT_INTERVAL="2",
        MALLEABLE_HEALTH_DISPATCHER_MAX_AGE="10",
        MALLEABLE_HEALTH_WORKER_MAX_AGE="10",
        MALLEABLE_OPERATOR_CHANNELS=f"{receiver.url}/operator",
        MALLEABLE_OPERATOR_WEBHOOK_SECRET=uuid.uuid4().hex,
        MALLEABLE_WATCHDOG_STATE=str(folder / "watchdog-state.json"),
        **DATASOURCES_ON_THIS_MACHINE,
    )


def make_checkers(receiver: Receiver) -> None:
    from django.utils import timezone

    from alarms.models import Channel
    from checkers.models import Checker, CheckerKind, CheckerRule, Dataset, Datasource
    from namespaces.models import Namespace

    namespace = Namespace.objects.create(slug="shop", name="Shop")
    source = Datasource.objects.create(
        namespace=namespace, slug="shop", engine="postgresql", url=f"{SERVER}/{SHOP_DB}"
    )
    dataset = Dataset.objects.create(
        namespace=namespace, slug="users", datasource=source, sql="SELECT * FROM users"
    )
    Channel.objects.create(
        namespace=namespace,
        slug="on-call",
        kind="webhook",
        url=f"{receiver.url}/namespace",
        secret=uuid.uuid4().hex,
        is_default=True,
    )
    for slug in ("few-null-emails", "some-users"):
        checker = Checker.objects.create(
            namespace=namespace, slug=slug, name=slug, kind=CheckerKind.RULE, schedule_every=EVERY_S
        )
        metric, value = ("null_count", 50) if slug == "few-null-emails" else ("row_count", 1000)
        CheckerRule.objects.create(
            checker=checker, dataset=dataset, metric=metric, column="email", op="<", value=value
        )
    Checker.objects.update(next_run_at=timezone.now())


def celery(*args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "--app", "malleable", *args, "--loglevel", "WARNING"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class Watchdog:
    """cron, scaled: ``manage.py watchdog --json`` every few seconds, each report kept with its time."""

    def __init__(self, every_s: float) -> None:
        self.every_s, self.reports, self.stopping = every_s, [], threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self) -> None:
        while not self.stopping.wait(self.every_s):
            started = time.time()
            done = subprocess.run(
                [sys.executable, "manage.py", "watchdog", "--json"],
                cwd=ROOT,
                env=os.environ.copy(),
                capture_output=True,
                text=True,
                check=False,
            )
            if done.stdout.strip():
                self.reports.append((started, done.returncode, json.loads(done.stdout)))

    def first_unhealthy(self, check: str, after: float) -> float | None:
        found = [at for at, _, report in self.reports if at > after and not report["checks"][check]["ok"]]
        return found[0] if found else None


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.2)


def last_tick() -> float:
    from health.models import Heartbeat

    tick = Heartbeat.last(Heartbeat.Kind.DISPATCHER)
    return tick.seen.timestamp() if tick else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--stopped", type=float, default=30, help="seconds beat stays stopped after the alarms"
    )
    parser.add_argument("--watchdog-every", type=float, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="malleable-outage-"))
    receiver = Receiver()
    make_shop()
    start_django(receiver, folder)
    make_checkers(receiver)

    from checkers.models import CheckRun

    log = folder / "celery.log"
    worker = celery(
        "worker", "--concurrency", "2", "--without-gossip", "--without-mingle", "-n", "outage@%h", log=log
    )
    beat = celery("beat", "--schedule", str(folder / "beat-schedule"), log=log)
    steps: list[tuple[float, str]] = []
    try:
        wait_for(lambda: CheckRun.objects.exclude(finished=None).count() >= 4, "two runs of each checker")
        watchdog = Watchdog(args.watchdog_every)
        stop(beat)
        stopped = time.time()
        steps.append((stopped, "beat stopped (SIGTERM)"))
        wait_for(
            lambda: len(receiver.got("/namespace", "late")) >= 2 and receiver.got("/operator", "operator"),
            "the late alarms and the operator's message",
        )
        steps.append((last_tick(), "the dispatcher's last tick before the stop"))
        time.sleep(args.stopped)
        beat = celery("beat", "--schedule", str(folder / "beat-schedule"), log=log)
        resumed = time.time()
        steps.append((resumed, "beat started again"))
        wait_for(lambda: last_tick() > resumed, "a dispatcher tick")
        steps.append((last_tick(), "the dispatcher's first tick after the restart"))
        wait_for(
            lambda: (
                len(receiver.got("/namespace", "resolved")) >= 2 and receiver.got("/operator", "recovered")
            ),
            "resolved and recovered",
        )
        watchdog.stopping.set()
        watchdog.thread.join(timeout=30)
    finally:
        stop(beat)
        stop(worker)
    steps += what_happened(stopped, receiver, watchdog)
    print(
        f"checkers every {EVERY_S} s; watchdog every {watchdog.every_s:.0f} s; seconds after beat stopped:\n"
    )
    for moment, text in sorted(steps):
        print(f"{moment - stopped:+7.1f} s  {text}")
    print(f"\n(worker and beat log: {log})")


def what_happened(stopped: float, receiver: Receiver, watchdog: Watchdog) -> list[tuple[float, str]]:
    from health.models import Lateness

    steps = []
    first_seen = watchdog.first_unhealthy("dispatcher", stopped)
    if first_seen:
        steps.append((first_seen, "a watchdog run finds the scheduler stopped, exits 1"))
    for lateness in Lateness.objects.select_related("checker"):
        slug = lateness.checker.slug
        steps.append((lateness.due.timestamp(), f"{slug}: its run is due (and will not start)"))
        steps.append((lateness.detected.timestamp(), f"{slug}: late, found by a watchdog run"))
        if lateness.ended:
            steps.append((lateness.ended.timestamp(), f"{slug}: lateness ended (runs resumed)"))
    for event, words in (("late", "`late` alarm"), ("resolved", "`resolved`")):
        for moment, body in receiver.got("/namespace", event):
            steps.append((moment, f"{words} for {body['checker']} arrives at the namespace's webhook"))
    for event in ("operator", "recovered"):
        for moment, body in receiver.got("/operator", event):
            steps.append((moment, f"operator webhook: {body['messages'][0]['text']}"))
    return steps


if __name__ == "__main__":
    main()
