"""`run_checker --backtest DAYS`: rules replayed over stored figures; nothing recorded, nobody told."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from alarms.models import AlarmState, Notification, Transition
from checkers.models import CheckRun
from tests.checkers.history_support import ROWS, store

pytestmark = pytest.mark.django_db

# 29 daily runs: 100, 101, 102 in turn, with two outliers, 180 ten days ago and 40 three days ago.
OUTLIERS = {10: 180, 3: 40}


def series(now):
    return [
        (now - timedelta(days=ago) + timedelta(minutes=1), OUTLIERS.get(ago, 100 + ago % 3))
        for ago in range(29, 0, -1)
    ]


@pytest.fixture
def backtested(counted):
    checker = counted(
        100,
        {"metric": "row_count", "compare": "band", "band": "mad", "history_runs": 7, "min_history": 7},
        {"metric": "row_count", "op": "<", "value": 150},
        {"metric": "row_count", "compare": "change_pct", "op": ">=", "value": -50},
    )
    store(checker, series(timezone.now()))
    return checker


def backtest(checker, days: int) -> dict:
    out = StringIO()
    call_command(
        "run_checker",
        f"{checker.namespace.slug}/{checker.slug}",
        "--backtest",
        str(days),
        "--json",
        stdout=out,
    )
    return json.loads(out.getvalue())


def days_ago(report_rule: dict) -> list[int]:
    now = timezone.now()
    return [
        round((now - timezone.datetime.fromisoformat(when["at"])) / timedelta(days=1))
        for when in report_rule["when"]
    ]


def test_the_backtest_counts_when_each_rule_would_have_fired(backtested):
    report = backtest(backtested, 14)

    assert report["days"] == 14
    assert report["fired"] == 4
    band, fixed, change = report["rules"]
    assert (band["runs"], band["fired"], days_ago(band)) == (14, 2, [10, 3])
    assert band["when"][0]["message"] == f"{ROWS} (180, expected 96.55–105.45 from the last 7 runs)"
    assert (fixed["runs"], fixed["fired"], days_ago(fixed)) == (14, 1, [10])
    assert fixed["when"][0]["message"] == f"{ROWS} (180, expected < 150)"
    assert (change["fired"], days_ago(change)) == (1, [3])
    assert change["when"][0]["message"].startswith(f"{ROWS} (40: -60")

    # Over the last 5 days only the second outlier is in reach; the band still learns from
    # the runs before those days.
    report = backtest(backtested, 5)
    assert [(rule["runs"], rule["fired"]) for rule in report["rules"]] == [(5, 1), (5, 0), (5, 1)]


def test_the_backtest_records_nothing_and_alarms_nobody(backtested):
    runs_before = CheckRun.objects.count()

    out = StringIO()
    call_command(
        "run_checker", f"{backtested.namespace.slug}/{backtested.slug}", "--backtest", "14", stdout=out
    )

    assert CheckRun.objects.count() == runs_before
    assert AlarmState.objects.get(checker=backtested).state == "unknown"
    assert not Transition.objects.exists()
    assert not Notification.objects.exists()
    text = out.getvalue()
    assert "would have fired 2 times in the last 14 days (14 stored runs)" in text
    assert "would have fired 1 time in the last 14 days (14 stored runs)" in text
    assert f"{ROWS} (180, expected < 150)" in text


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["--backtest", "0"], "must be a whole number of days from 1 to 3650"),
        (["--backtest", "7", "--dry-run"], "takes neither --repeat nor --dry-run"),
    ],
)
def test_bad_backtest_usage_exits_64(backtested, arguments, error):
    from django.core.management import CommandError

    with pytest.raises(CommandError) as raised:
        call_command("run_checker", f"{backtested.namespace.slug}/{backtested.slug}", *arguments)
    assert raised.value.returncode == 64
    assert error in str(raised.value)
