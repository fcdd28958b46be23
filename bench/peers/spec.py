"""What each task checks, in one place, so the three tools check the same thing.

Imported by every worker (each in its own virtualenv), so it uses the standard library only.
Every check holds on the generated tables (``data.py``): a run that is not all green means
the tools disagree, and the coordinator says so beside the timings.

The ten checks on ``orders_100k``, and how each tool says them (Malleable / Soda / GX):

- row count: row_count > 0 / row_count > 0 / row count between 1 and none
- null e-mails: null_count(email) < 10000 / missing_count(email) < 10000 / not null, mostly
  0.90001 (at least 90,001 of 100,000 present)
- amount: min >= 1, max <= 5000, avg between 2000 and 3000, in all three (GX: mean)
- statuses: distinct_count(status) == 5 / a metric expression COUNT(DISTINCT status) = 5 /
  unique value count between 5 and 5
- amount bounds: row_count == 0 of the rows outside 0..10000 / invalid_count(amount) = 0
  with valid min 0 and valid max 10000 / values between 0 and 10000
- freshness: freshness(created_at) < 86400 (seconds) / freshness(created_at) < 1d / no
  unexpected rows from "max(created_at) older than a day"
- duplicate ids: duplicate_count(id) == 0 / duplicate_count(id) = 0 / values unique
- custom SQL: a scalar rule over the query < 20000 / a metric query < 20000 / no unexpected
  rows from "the count >= 20000"

The amount bounds are one rule in Malleable, over a dataset of the out-of-bounds rows (the
rows Soda's ``invalid_count`` and GX's "values between" count), rather than the pair
``min >= 0`` and ``max <= 10000``: ten checks stay ten rules and ten checkers. Nulls count as
neither in bounds nor out, in all three.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

NULL_EMAILS_1K_BELOW = 100
NULL_EMAILS_100K_BELOW = 10_000
MIN_AMOUNT_AT_LEAST = 1
MAX_AMOUNT_AT_MOST = 5000
AVG_AMOUNT = (2000, 3000)
STATUSES = 5
AMOUNT_BOUNDS = (0, 10_000)
FRESH_WITHIN_S = 86_400
REFUNDED_OVER_500_BELOW = 20_000
CUSTOM_SQL = "SELECT count(*) FROM orders_100k WHERE status = 'refunded' AND amount > 500"
OUT_OF_BOUNDS_SQL = "SELECT * FROM orders_100k WHERE amount < 0 OR amount > 10000"
TEN = 10

# A task's verdict: how many of its checks held, out of how many.
Verdict = dict[str, Any]


def verdict(passed: int, checks: int, **extra: Any) -> Verdict:
    return {"passed": passed, "checks": checks, **extra}


_channel = None


def claim_stdout() -> None:
    """Keep stdout for the answers: point fd 1 at stderr, so what a tool prints goes there.

    Call it first thing in a worker, before a tool or Django can print anything.
    """
    global _channel
    if _channel is None:
        _channel = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr


def serve(tasks: dict[str, Callable[[], Verdict]], notes: list[str] | None = None) -> None:
    """Answer ``{"task": NAME}`` lines on stdin with ``{"task", "ms", "passed", "checks"}``.

    Each task is timed here, the same way for every tool.
    """
    claim_stdout()

    def send(message: dict[str, Any]) -> None:
        _channel.write(json.dumps(message) + "\n")

    send({"ready": True, "tasks": sorted(tasks), "notes": notes or [], "pid": os.getpid()})
    for line in sys.stdin:
        name = json.loads(line)["task"]
        try:
            started = time.perf_counter()
            result = tasks[name]()
            ms = (time.perf_counter() - started) * 1000
        except Exception as exc:  # a tool's failure is a result to report, not a crash
            send({"task": name, "error": f"{type(exc).__name__}: {exc}"})
            continue
        send({"task": name, "ms": ms, **result})
