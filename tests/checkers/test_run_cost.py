"""What a worker's run of a rule checker costs on Malleable's own database, pinned statement by
statement (docs/performance.md, "Per-run cost"): each is a round trip, but for those sent together
in pipeline mode."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg import pq

from alarms.models import AlarmState
from checkers import quotas, runs, tasks
from checkers.models import Checker, CheckerKind, CheckRun, Dataset, Datasource
from tests.checkers.test_celery_e2e import postgres_database  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def checker(personas, pg_orders, postgres_database) -> Checker:  # noqa: F811
    source = Datasource.objects.create(
        namespace=personas.a, slug="shop", engine="postgresql", url=pg_orders.url
    )
    orders = Dataset.objects.create(
        namespace=personas.a, slug="orders", datasource=source, sql="SELECT * FROM orders"
    )
    checker = Checker.objects.create(
        namespace=personas.a, slug="few-nulls", name="Few nulls", kind=CheckerKind.RULE
    )
    checker.rules.create(dataset=orders, metric="null_count", column="email", op="<", value=5000)
    return checker


def run_queued(checker: Checker) -> tuple[CheckRun, list[str]]:
    queued = CheckRun.objects.create(checker=checker, trigger="schedule")
    with CaptureQueriesContext(connection) as queries:
        tasks.run_checker(queued.pk)
    return CheckRun.objects.get(pk=queued.pk), [query["sql"] for query in queries.captured_queries]


STEADY = [
    "WITH",  # take the queued run, read with its checker, namespace, rules, datasets and datasources
    "SELECT",  # a slot of the datasource (an advisory lock)
    "SELECT",  # its release
    "SAVEPOINT",  # the transaction, under the test's own
    "UPDATE",  # the checker's last run
    "UPDATE",  # the run: it goes out with the transaction's start and the last run (below)
    "UPDATE",  # the alarm state, on the condition that it stays as it is
    "RELEASE",
]


def test_a_steady_run_is_six_statements_on_postgresql_and_the_quota_one_more_a_second(checker):
    run_queued(checker)  # the first run moves the alarm state out of "unknown"
    run, statements = run_queued(checker)
    assert run.status == "green"
    assert [sql.split()[0] for sql in statements] == STEADY  # the quota's answer of the first run
    assert "UPDATE checkers_checkrun" in statements[0] and "RETURNING" in statements[0]
    assert AlarmState.objects.get(checker=checker).last_run == run

    quotas.forget()  # as if a second had passed (quotas.FRESH)
    run, statements = run_queued(checker)
    assert [sql.split()[0] for sql in statements] == [STEADY[0], "SELECT", *STEADY[1:]]
    assert "SUM(duration_ms)" in statements[1]  # the namespace's worker-seconds this hour


def test_the_run_goes_out_with_the_transactions_start_and_the_last_run_in_one_round_trip(
    checker, monkeypatch
):
    """psycopg's pipeline mode: nothing is read back before the run's UPDATE is sent."""
    seen = []
    update_row = runs.update_row

    def spy(instance, fields):
        seen.append(connection.connection.pgconn.pipeline_status)
        update_row(instance, fields)

    monkeypatch.setattr(runs, "update_row", spy)
    run, _ = run_queued(checker)
    assert seen == [pq.PipelineStatus.ON]
    assert (run.status, run.finished) == ("green", Checker.objects.get(pk=checker.pk).last_run_at)
