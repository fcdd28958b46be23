"""History benchmark: what judging a rule on history, and replaying one, cost in Python.

    .venv/bin/python bench/history.py [--points 5000] [--repeat 5]

Builds a synthetic series of hourly figures in memory (no database), then prints medians of:

- **judge**: one run's verdict for a band over its window (the last 30 runs; the same
  weekday and hour of 5,000 runs; 28 days), as ``checkers.history.judge`` makes it;
- **replay**: ``checkers.history.replay`` over the whole series, as ``run_checker
  --backtest`` does after reading the runs (the read itself is one indexed query).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "malleable.settings")

import django

django.setup()

from checkers import history  # noqa: E402
from checkers.rules import Band, Compare, Metric, Operator, Rule, Season  # noqa: E402

ZONE = zoneinfo.ZoneInfo("Europe/Paris")
RULES = {
    "band, last 30 runs": Rule("orders", Metric.ROW_COUNT, Operator.LT, None, compare=Compare.BAND),
    "mad band, same weekday and hour": Rule(
        "orders", Metric.ROW_COUNT, Operator.LT, None, compare=Compare.BAND, band=Band.MAD,
        seasonal=Season.WEEKDAY_HOUR,
    ),
    "band, last 28 days": Rule(
        "orders", Metric.ROW_COUNT, Operator.LT, None, compare=Compare.BAND, history_days=28
    ),
    "change in %": Rule("orders", Metric.ROW_COUNT, Operator.GE, -20, compare=Compare.CHANGE_PCT),
}  # fmt: skip


def median_ms(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    points = [
        history.Point(start + timedelta(hours=i), 1000 + (i % 24) * 10 + (i % 7)) for i in range(args.points)
    ]
    now = points[-1].at + timedelta(hours=1)
    print(f"{args.points:,} hourly figures; medians of {args.repeat} repeats")
    print(f"{'rule':<34}{'judge ms':>10}{'replay ms':>12}{'per run µs':>12}")
    for name, rule in RULES.items():
        judge = median_ms(lambda rule=rule: history.judge(rule, 1100, now, points, ZONE), args.repeat)
        replay = median_ms(lambda rule=rule: history.replay(rule, points, start, ZONE), args.repeat)
        print(f"{name:<34}{judge:>10.2f}{replay:>12.1f}{replay * 1000 / len(points):>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
