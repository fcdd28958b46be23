"""Checkers with a stored history: the figures of past runs written as the pipeline writes them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pytest

from checkers.models import Checker, CheckerKind, CheckerRule, CheckRun, Dataset, Datasource

ROWS = "row count in orders"


@pytest.fixture
def counted(personas, pg_orders):
    """A rule checker over the first ``rows`` orders of the PostgreSQL shop: its row count is
    ``rows`` by construction (ids 1..20000)."""

    def make(rows: int, *rules: dict, zone: str = "UTC") -> Checker:
        source, _ = Datasource.objects.get_or_create(
            namespace=personas.a, slug="shop", defaults={"engine": "postgresql", "url": pg_orders.url}
        )
        dataset, _ = Dataset.objects.update_or_create(
            namespace=personas.a, slug="orders", defaults={"datasource": source, "sql": sql(rows)}
        )
        checker = Checker.objects.create(
            namespace=personas.a,
            slug=f"history-{Checker.objects.count()}",
            name="History",
            kind=CheckerKind.RULE,
            schedule_cron="0 9 * * *",
            timezone=zone,
        )
        for position, rule in enumerate(rules):
            CheckerRule.objects.create(checker=checker, dataset=dataset, position=position, **rule)
        return checker

    return make


def sql(rows: int) -> str:
    return f"SELECT id FROM orders WHERE id <= {int(rows)}"  # noqa: S608 - a number of our own


def set_rows(checker: Checker, rows: int) -> None:
    Dataset.objects.filter(namespace=checker.namespace, slug="orders").update(sql=sql(rows))


def store(checker: Checker, series: Iterable[tuple[datetime, float]], status: str = "green") -> None:
    """Past runs, each due at its time, with the figure as ``runs.record`` stores it."""
    CheckRun.objects.bulk_create(
        CheckRun(
            checker=checker,
            trigger="schedule",
            status=status,
            scheduled_for=at,
            queued=at,
            started=at,
            finished=at,
            figures={ROWS: float(value)},
        )
        for at, value in series
    )


def day(month: int, date: int, hour: int = 8) -> datetime:
    return datetime(2026, month, date, hour, tzinfo=UTC)
