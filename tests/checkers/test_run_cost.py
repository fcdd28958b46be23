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
from checkers.models import AdvisorySlots, Checker, CheckerKind, CheckRun, Dataset, Datasource
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
    "EXECUTE",  # take the queued run, read with its checker, namespace, rules, datasets and datasources
    "SELECT",  # a slot of the datasource (an advisory lock)
    "WITH",  # the run, the checker's last run and the alarm state, all of them or none; the slot back
]


def slots_held() -> int:
    """The datasource slots (advisory locks) this session holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            " AND classid = %s",
            [AdvisorySlots.LOCK_CLASS],
        )
        return cursor.fetchone()[0]


def test_a_steady_run_is_three_statements_on_postgresql_and_the_quota_one_more_a_second(checker):
    run_queued(checker)  # the first run moves the alarm state out of "unknown"
    before = AlarmState.objects.get(checker=checker)
    run, statements = run_queued(checker)
    assert run.status == "green"
    assert [sql.split()[0] for sql in statements] == STEADY  # the quota's answer of the first run
    assert statements[0].startswith("EXECUTE malleable_claim_run(")  # prepared by an earlier run
    assert "alarms_alarmstate" in statements[2] and "pg_advisory_unlock" in statements[2]
    assert slots_held() == 0
    state = AlarmState.objects.get(checker=checker)
    assert (state.last_run, state.state, state.since) == (run, "green", before.since)
    assert Checker.objects.get(pk=checker.pk).last_run_at == run.finished
    assert run.dataset_stats["orders"]["rows"] is None and run.figures  # the run's own fields, written

    quotas.forget()  # as if a second had passed (quotas.FRESH)
    run, statements = run_queued(checker)
    assert [sql.split()[0] for sql in statements] == [STEADY[0], "SELECT", *STEADY[1:]]
    assert "SUM(duration_ms)" in statements[1]  # the namespace's worker-seconds this hour


def test_a_red_run_with_its_alarm_open_is_settled_in_one_statement_too(checker):
    checker.rules.update(value=0)  # no null may be found: red
    run_queued(checker)  # the transition to red, and its alarm
    run_queued(checker)
    run, statements = run_queued(checker)
    assert [sql.split()[0] for sql in statements] == STEADY
    state = AlarmState.objects.get(checker=checker)
    assert (run.status, state.state, state.consecutive_reds, state.last_run) == ("red", "red", 3, run)
    assert state.alarm is not None and state.alarm == state.last_transition


def test_a_run_that_moves_the_state_writes_nothing_in_one_statement_and_all_in_the_transaction(
    checker, monkeypatch
):
    run_queued(checker)
    green = AlarmState.objects.get(checker=checker).last_run
    checker.rules.update(value=0)
    seen = []
    write_settled = runs._write_settled

    def spy(checker, run):
        written = write_settled(checker, run)
        last_run = Checker.objects.get(pk=checker.pk).last_run_at
        seen.append((written, CheckRun.objects.get(pk=run.pk).status, last_run))
        return written

    monkeypatch.setattr(runs, "_write_settled", spy)
    run, _ = run_queued(checker)
    assert seen == [(False, "running", green.finished)]  # the run, the last run: neither written
    state = AlarmState.objects.get(checker=checker)
    assert (run.status, state.state, state.last_run) == ("red", "red", run)
    assert state.last_transition.run == run and (state.last_transition.old, state.last_transition.new) == (
        "green",
        "red",
    )
    assert Checker.objects.get(pk=checker.pk).last_run_at == run.finished
    assert slots_held() == 0  # given back by the one statement, although it wrote nothing else


def test_a_slot_kept_for_the_recording_is_given_back_when_the_run_fails_before_it(checker, monkeypatch):
    def fails(*args, **kwargs):
        raise RuntimeError("the recording never came")

    run_queued(checker)
    monkeypatch.setattr(runs, "record", fails)
    with pytest.raises(RuntimeError, match="never came"):
        run_queued(checker)
    assert slots_held() == 0


def test_a_transactions_run_goes_out_with_its_start_and_the_last_run_in_one_round_trip(checker, monkeypatch):
    """psycopg's pipeline mode: nothing is read back before the run's UPDATE is sent (the first
    run leaves "unknown", so the transaction records it)."""
    seen = []
    update_row = runs.update_row

    def spy(instance, fields):
        seen.append(connection.connection.pgconn.pipeline_status)
        update_row(instance, fields)

    monkeypatch.setattr(runs, "update_row", spy)
    run, _ = run_queued(checker)
    assert seen == [pq.PipelineStatus.ON]
    assert (run.status, run.finished) == ("green", Checker.objects.get(pk=checker.pk).last_run_at)


def prepared_claim() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name = 'malleable_claim_run'")
        row = cursor.fetchone()
    return row and row[0]


@pytest.mark.django_db(transaction=True)
def test_the_claim_commits_without_waiting_for_the_disk_and_the_session_keeps_waiting(checker):
    """``synchronous_commit`` is off for the claim's own transaction only: were it left off for
    the session, every later write of the worker, the run's recording too, could be lost to a
    crash of the database server."""
    queued = CheckRun.objects.create(checker=checker, trigger="schedule")
    assert runs.claim_queued(queued.pk) is not None
    assert "set_config('synchronous_commit', 'off', true)" in prepared_claim()
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)
    assert CheckRun.objects.get(pk=queued.pk).status == "running"


@pytest.mark.django_db(transaction=True)
def test_the_claim_is_prepared_once_per_connection_and_again_when_it_is_gone(checker):
    def claim() -> list[str]:
        queued = CheckRun.objects.create(checker=checker, trigger="schedule")
        with CaptureQueriesContext(connection) as queries:
            run = runs.claim_queued(queued.pk)
        assert (run.pk, run.status, run.checker.rules.get().column) == (queued.pk, "running", "email")
        return [query["sql"].split()[0] for query in queries.captured_queries]

    connection.close()
    assert claim() == ["PREPARE", "EXECUTE"]
    assert claim() == ["EXECUTE"]
    connection.close()  # a new session has no prepared statements
    assert claim() == ["PREPARE", "EXECUTE"]
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE malleable_claim_run")
    assert claim() == ["EXECUTE", "PREPARE", "EXECUTE"]  # it was gone: prepared again, once
    assert prepared_claim() is not None
