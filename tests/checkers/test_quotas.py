"""Tenant quotas (issue 11, finding 5): a namespace's checkers and their frequency, a run's
statement timeout and datasets, and worker-seconds per hour, all set by the operator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alarms.models import AlarmState
from checkers import quotas, tasks
from checkers.models import Checker, CheckerKind, CheckRun, Dataset, Datasource, RunStatus, TestRun, Trigger
from checks_as_code import config
from tests.checkers.config_support import ENVIRON, locate, rich_file

NEW = "/n/alpha/checkers/new/"


def _code_form(datasets: list[Dataset], **extra) -> dict:
    return {
        "name": "More",
        "slug": "more",
        "kind": "python",
        "severity": "warning",
        "source": "ok('fine')\n",
        "datasets": [dataset.pk for dataset in datasets],
        "schedule_cron": "*/5 * * * *",
        "enabled": "on",
        "params": "{}",
        "action": "save",
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
        **extra,
    }


@pytest.fixture
def two_datasets(seed) -> list[Dataset]:
    first = seed[0].rules.get().dataset
    second = Dataset.objects.create(
        namespace=first.namespace, slug="all_users", datasource=first.datasource, sql="SELECT * FROM users"
    )
    return [first, second]


def test_a_namespace_cannot_pass_its_number_of_checkers(personas, login, two_datasets, settings):
    settings.QUOTA_CHECKERS = 2  # the seed has two

    response = login(personas.editor).post(NEW, _code_form(two_datasets[:1]))

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "This namespace has its 2 checkers, the most this installation allows: delete one first."
    ]
    assert Checker.objects.filter(namespace=personas.a).count() == 2
    settings.QUOTA_CHECKERS = 3
    assert login(personas.editor).post(NEW, _code_form(two_datasets[:1])).status_code == 302


@pytest.mark.parametrize(
    ("cron", "every", "field", "message"),
    [
        ("", 30, "schedule_every", "Every 30 s is more often than this installation allows: at least 300 s."),
        (
            "* * * * *",
            None,
            "schedule_cron",
            "'* * * * *' fires more often than this installation allows (every 60 s at times): "
            "at least 300 s between runs.",
        ),
        (
            "0,1 3 * * *",
            None,
            "schedule_cron",
            "'0,1 3 * * *' fires more often than this installation allows (every 60 s at times): "
            "at least 300 s between runs.",
        ),
    ],
)
def test_a_schedule_more_frequent_than_the_shortest_interval_is_refused(
    personas, settings, cron, every, field, message
):
    settings.QUOTA_MIN_INTERVAL_S = 300
    checker = Checker(
        namespace=personas.a, slug="often", name="Often", schedule_cron=cron, schedule_every=every
    )

    with pytest.raises(ValidationError) as refused:
        checker.full_clean()

    assert refused.value.message_dict[field] == [message]


def test_schedules_at_the_shortest_interval_pass(personas, settings):
    settings.QUOTA_MIN_INTERVAL_S = 300
    for cron, every in [("*/5 * * * *", None), ("0 3 * * *", None), ("", 300)]:
        Checker(
            namespace=personas.a, slug="ok", name="Ok", kind=CheckerKind.PYTHON, source="ok('x')",
            schedule_cron=cron, schedule_every=every,
        ).full_clean()  # fmt: skip


def test_a_statement_timeout_past_the_quota_is_refused(seed, settings):
    settings.QUOTA_STATEMENT_TIMEOUT_S = 30
    datasource = Datasource.objects.get(slug="shop")
    datasource.statement_timeout = 31

    with pytest.raises(ValidationError) as refused:
        datasource.full_clean()

    assert refused.value.message_dict["statement_timeout"] == ["At most 30 s on this installation."]


def test_the_editor_refuses_more_datasets_than_the_quota(personas, login, two_datasets, settings):
    settings.QUOTA_DATASETS_PER_CHECKER = 1

    response = login(personas.editor).post(NEW, _code_form(two_datasets))

    assert response.context["form"].errors["datasets"] == [
        "A checker reads at most 1 datasets on this installation; this one reads 2."
    ]
    assert not Checker.objects.filter(slug="more").exists()


def test_checks_as_code_refuses_more_datasets_than_the_quota(tmp_path, people, sqlite_dir, settings):
    settings.QUOTA_DATASETS_PER_CHECKER = 0
    path = rich_file(tmp_path, sqlite_dir)

    with pytest.raises(config.ConfigInvalid) as refused:
        config.import_file(path, environ=ENVIRON)

    messages = {error.message for error in refused.value.errors}
    assert "A checker reads at most 0 datasets on this installation; this one reads 1." in messages
    first = refused.value.errors[0]
    assert first.line, first.column
    assert (first.line, first.column) >= locate(path.read_text(), "checkers:")


def _spend(checker: Checker, seconds: float, when: datetime) -> None:
    CheckRun.objects.create(
        checker=checker,
        trigger=Trigger.SCHEDULE,
        status=RunStatus.GREEN,
        queued=when,
        started=when,
        finished=when,
        duration_ms=seconds * 1000,
    )


def test_the_budget_message_names_the_namespace_and_the_next_hour(seed, settings):
    settings.QUOTA_WORKER_SECONDS = 3600
    rule = seed[0]
    now = datetime(2025, 3, 4, 9, 41, tzinfo=UTC)
    _spend(rule, 3600, now - timedelta(minutes=10))
    _spend(rule, 5000, now - timedelta(minutes=50))  # the hour before: not counted

    assert quotas.budget_spent(rule.namespace, now) == (
        "skipped: namespace alpha used its 3,600 worker-seconds for this hour; next budget at 10:00"
    )
    assert quotas.budget_spent(rule.namespace, now + timedelta(minutes=20)) is None


def test_a_namespace_past_its_budget_has_its_runs_skipped_and_its_state_kept(seed, shop, personas, settings):
    settings.QUOTA_WORKER_SECONDS = 1
    rule, _ = seed
    shop.set_null_emails(50)
    red = CheckRun.objects.create(checker=rule, trigger=Trigger.SCHEDULE)
    assert tasks.run_checker(red.pk) == RunStatus.RED
    _spend(rule, 2, datetime.now(UTC))
    quotas.forget()  # as if a second had passed (quotas.FRESH): the worker asks again

    run = CheckRun.objects.create(checker=rule, trigger=Trigger.SCHEDULE)
    assert tasks.run_checker(run.pk) == RunStatus.SKIPPED

    run.refresh_from_db()
    assert run.status == RunStatus.SKIPPED
    assert run.error_detail.startswith("skipped: namespace alpha used its 1 worker-seconds for this hour;")
    assert AlarmState.objects.get(checker=rule).state == "red"
    rule.refresh_from_db()
    assert rule.last_run_at == CheckRun.objects.get(pk=red.pk).finished


def test_another_namespace_is_not_starved(seed, personas, settings):
    settings.QUOTA_WORKER_SECONDS = 1
    _spend(seed[0], 2, datetime.now(UTC))
    theirs = Checker.objects.create(
        namespace=personas.b, slug="b-check", name="B", kind=CheckerKind.PYTHON, source="ok('b')",
        schedule_every=300,
    )  # fmt: skip
    run = CheckRun.objects.create(checker=theirs, trigger=Trigger.SCHEDULE)

    assert tasks.run_checker(run.pk) == RunStatus.GREEN


# The worker-seconds of an hour, remembered up to a minute ago (quotas.SETTLE) and summed
# since then: a check late in a busy hour reads a minute of runs, not the hour's.
HOUR = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def _used(checker: Checker, at: datetime) -> float:
    return quotas.worker_seconds_used(checker.namespace, HOUR, at)


def test_a_warm_check_reads_only_the_runs_since_a_minute_before_the_last(seed):
    rule = seed[0]
    _spend(rule, 2, HOUR + timedelta(minutes=5))
    _spend(rule, 1, HOUR + timedelta(minutes=30))
    assert _used(rule, HOUR + timedelta(minutes=41)) == 3.0

    with CaptureQueriesContext(connection) as queries:
        assert _used(rule, HOUR + timedelta(minutes=42)) == 3.0

    (query,) = queries.captured_queries
    assert "2025-03-04 09:40:00" in query["sql"]  # the last check's watermark: 09:41 less a minute
    assert "2025-03-04 09:00:00" not in query["sql"]


def test_a_run_recorded_seconds_ago_is_counted_once_the_last_answer_is_a_second_old(seed, settings):
    settings.QUOTA_WORKER_SECONDS = 1
    rule = seed[0]
    now = HOUR + timedelta(minutes=41)
    assert quotas.budget_spent(rule.namespace, now) is None

    _spend(rule, 2, now + timedelta(milliseconds=100))

    with CaptureQueriesContext(connection) as queries:
        assert quotas.budget_spent(rule.namespace, now + timedelta(milliseconds=900)) is None
    assert queries.captured_queries == []  # quotas.FRESH: the answer of 100 ms ago
    assert quotas.budget_spent(rule.namespace, now + timedelta(seconds=1)).startswith(
        "skipped: namespace alpha used its 1 worker-seconds for this hour;"
    )


def test_a_new_hour_starts_from_zero(seed, settings):
    settings.QUOTA_WORKER_SECONDS = 1
    rule = seed[0]
    _spend(rule, 2, HOUR + timedelta(minutes=50))
    assert quotas.budget_spent(rule.namespace, HOUR + timedelta(minutes=58)) is not None

    next_hour = HOUR + timedelta(hours=1)
    assert quotas.budget_spent(rule.namespace, next_hour + timedelta(seconds=30)) is None
    assert quotas.budget_spent(rule.namespace, next_hour + timedelta(minutes=3)) is None
    _spend(rule, 2, next_hour + timedelta(minutes=4))
    assert quotas.budget_spent(rule.namespace, next_hour + timedelta(minutes=5)) is not None


def test_runs_and_test_runs_finished_before_the_watermark_are_counted_once(seed, personas):
    rule = seed[0]
    _spend(rule, 2, HOUR + timedelta(minutes=10))
    TestRun.objects.create(
        namespace=personas.a, finished=HOUR + timedelta(minutes=20), duration_ms=500.0, result={}
    )
    checks = [HOUR + timedelta(minutes=minute) for minute in (20.5, 21, 21.5, 30, 30.25, 45)]
    assert [_used(rule, at) for at in checks] == [2.5] * 6

    _spend(rule, 0.125, HOUR + timedelta(minutes=45, seconds=10))
    TestRun.objects.create(
        namespace=personas.a, finished=HOUR + timedelta(minutes=45, seconds=20), duration_ms=250.0, result={}
    )
    checks = [HOUR + timedelta(minutes=minute) for minute in (45.5, 46, 47, 59)]
    assert [_used(rule, at) for at in checks] == [2.875] * 4
