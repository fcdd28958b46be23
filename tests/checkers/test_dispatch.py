"""The dispatcher claims every due checker each tick, in batches of a few statements, once per slot."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from celery import beat as celery_beat
from celery.app import trace
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checkers import dispatch, tasks
from checkers.models import Checker, CheckRun
from checkers.schedules import Schedule
from tests.checkers.test_celery_e2e import postgres_database  # noqa: F401


@pytest.fixture
def sent(monkeypatch):
    """What the dispatcher sends to the broker: (run id, soft limit, hard limit)."""
    messages: list[tuple[int, int, int]] = []

    def apply_async(args, time_limit, soft_time_limit):
        messages.append((args[0], soft_time_limit, time_limit))

    monkeypatch.setattr(tasks.run_checker, "apply_async", apply_async)
    return messages


def many_checkers(seed, count: int) -> list[Checker]:
    """``count`` copies of the seed's rule checker, every one due a second ago."""
    rule = seed[0]
    dataset = rule.rules.get().dataset
    for i in range(count - 1):
        copy = Checker.objects.create(
            namespace=rule.namespace, slug=f"copy-{i}", name=f"Copy {i}", kind="rule", schedule_every=60
        )
        copy.rules.create(dataset=dataset, metric="row_count", op="<", value=42)
    Checker.objects.filter(kind="rule").update(next_run_at=timezone.now() - timedelta(seconds=1))
    return list(Checker.objects.filter(kind="rule"))


def test_every_due_checker_is_claimed_in_one_tick_whatever_the_batch(
    seed, settings, sent, django_capture_on_commit_callbacks
):
    settings.DISPATCH_BATCH = 4
    checkers = many_checkers(seed, 10)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.dispatch_due_checkers() == 10
        assert tasks.dispatch_due_checkers() == 0
    queued = CheckRun.objects.filter(trigger="schedule", status="queued")
    assert sorted(run for run, _, _ in sent) == sorted(queued.values_list("pk", flat=True))
    assert sorted(queued.values_list("checker_id", flat=True)) == sorted(c.pk for c in checkers)
    # The seed's datasource has the default 10 s statement timeout, the sandbox 5 s, the margin 10 s.
    assert {(soft, hard) for _, soft, hard in sent} == {(25, 30)}


def test_a_batch_is_three_statements_and_one_for_the_time_limits(seed, sent):
    many_checkers(seed, 30)
    with CaptureQueriesContext(connection) as queries:
        claimed = dispatch.claim_due(timezone.now(), 500)
    assert len(claimed) == 30
    verbs = [query["sql"].split()[0] for query in queries.captured_queries]
    # The savepoint stands for the transaction, under the test's own.
    assert verbs == ["SAVEPOINT", "SELECT", "UPDATE", "INSERT", "RELEASE", "SELECT"]
    # SQLite has no row locks: its transactions take the write lock up front instead.
    locks = connection.features.has_select_for_update
    assert ("FOR UPDATE" in queries.captured_queries[1]["sql"]) == locks


def test_an_interval_keeps_its_grid_when_dispatched_late():
    every = Schedule(every=60)
    due = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert every.following(due, due + timedelta(seconds=3), UTC) == due + timedelta(seconds=60)
    # Slots missed while nothing ran are skipped, not run in a burst.
    assert every.following(due, due + timedelta(seconds=150), UTC) == due + timedelta(seconds=180)


def test_a_cron_skips_to_its_next_slot_after_now():
    cron = Schedule(cron="*/5 * * * *")
    due = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert cron.following(due, due + timedelta(seconds=1), UTC) == due + timedelta(minutes=5)
    assert cron.following(due, due + timedelta(minutes=11), UTC) == due + timedelta(minutes=15)


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_claim_each_slot_once(seed, sent, postgres_database):  # noqa: F811
    """The first holds its batch's rows locked while the second runs: the second skips them,
    and once the first commits they are no longer due."""
    many_checkers(seed, 6)
    now = timezone.now()
    first_holds, second_done = threading.Event(), threading.Event()
    second: list[dispatch.Claimed] = []

    def other_dispatcher():
        first_holds.wait(10)
        try:
            second.extend(dispatch.claim_due(now, 500))
        finally:
            connection.close()
            second_done.set()

    thread = threading.Thread(target=other_dispatcher)
    thread.start()
    with transaction.atomic():
        first = dispatch.claim_due(now, 3)
        first_holds.set()
        assert second_done.wait(10)
    thread.join()
    third = dispatch.claim_due(now, 500)
    assert (len(first), len(second), len(third)) == (3, 3, 0)
    slots = Counter((run.checker_id, run.scheduled_for) for run in CheckRun.objects.all())
    assert len(slots) == 6
    assert set(slots.values()) == {1}


def test_dispatching_the_same_slot_twice_makes_one_run(seed, sent):
    checkers = many_checkers(seed, 3)
    slot = timezone.now() - timedelta(seconds=2)
    Checker.objects.filter(kind="rule").update(next_run_at=slot)
    assert len(dispatch.claim_due(timezone.now(), 500)) == 3
    # Two checkers' slot comes due again (their next run set back): their inserts are skipped,
    # and the third checker's next slot is queued beside them.
    Checker.objects.filter(pk__in=[checkers[0].pk, checkers[1].pk]).update(next_run_at=slot)
    Checker.objects.filter(pk=checkers[2].pk).update(next_run_at=slot + timedelta(seconds=1))
    (claimed,) = dispatch.claim_due(timezone.now(), 500)
    assert (claimed.run.checker_id, claimed.run.scheduled_for) == (
        checkers[2].pk,
        slot + timedelta(seconds=1),
    )
    assert CheckRun.objects.get(pk=claimed.run.pk).status == "queued"
    # One checker alone, its slot skipped: nothing claimed, and no error.
    Checker.objects.filter(pk=checkers[0].pk).update(next_run_at=slot)
    assert dispatch.claim_due(timezone.now(), 500) == []
    slots = Counter(CheckRun.objects.values_list("checker_id", "scheduled_for"))
    assert len(slots) == 4
    assert set(slots.values()) == {1}
    assert Checker.objects.get(pk=checkers[0].pk).next_run_at > slot


def test_the_database_refuses_a_second_run_of_a_scheduled_slot(seed):
    slot = timezone.now()
    CheckRun.objects.create(checker=seed[0], trigger="schedule", scheduled_for=slot)
    CheckRun.objects.create(checker=seed[1], trigger="schedule", scheduled_for=slot)
    # Runs that are not scheduled have no slot, and any number of them may be made.
    CheckRun.objects.create(checker=seed[0], trigger="manual")
    CheckRun.objects.create(checker=seed[0], trigger="manual")
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckRun.objects.create(checker=seed[0], trigger="schedule", scheduled_for=slot)


def test_a_tick_says_what_it_queued_and_celery_says_nothing_of_it(seed, sent, caplog):
    caplog.set_level(logging.INFO)
    many_checkers(seed, 2)
    tasks.dispatch_due_checkers()
    tick = {"name": "checkers.tasks.dispatch_due_checkers", "id": "t1", "runtime": 0.01, "return_value": 0}
    run = tick | {"name": "checkers.tasks.run_checker"}
    celery_beat.info("Scheduler: Sending due task %s (%s)", "dispatch-due-checkers", tick["name"])
    trace.info(trace.LOG_RECEIVED, tick)
    trace.info(trace.LOG_SUCCESS, tick)
    trace.info(trace.LOG_SUCCESS, run)
    trace.logger.error(trace.LOG_FAILURE, tick | {"description": "raised unexpected", "exc": "boom"})
    assert [(record.name, record.levelname, record.getMessage()) for record in caplog.records] == [
        ("checkers.tasks", "INFO", "dispatcher queued 2 runs"),
        ("celery.app.trace", "INFO", "Task checkers.tasks.run_checker[t1] succeeded in 0.01s: 0"),
        (
            "celery.app.trace",
            "ERROR",
            "Task checkers.tasks.dispatch_due_checkers[t1] raised unexpected: boom",
        ),
    ]
    caplog.clear()
    assert tasks.dispatch_due_checkers() == 0
    assert caplog.records == []
    # At DEBUG, Celery's lines about the tick show again.
    caplog.set_level(logging.DEBUG, logger="celery.app.trace")
    trace.info(trace.LOG_SUCCESS, tick)
    assert [record.getMessage() for record in caplog.records] == [
        "Task checkers.tasks.dispatch_due_checkers[t1] succeeded in 0.01s: 0"
    ]
