"""The run pipeline: fetch, evaluate, record; scheduling claims; the run_checker command."""

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from checkers import runs
from checkers.models import Checker, CheckRun
from checkers.signals import run_recorded
from malleable.settings import BASE_DIR


@pytest.mark.parametrize("which", [0, 1], ids=["rule", "python"])
def test_seed_goes_red_with_50_null_emails_and_green_with_10(seed, shop, which):
    checker = seed[which]
    shop.set_null_emails(50)
    red = runs.execute(checker)
    shop.set_null_emails(10)
    green = runs.execute(checker)
    assert (red.status, green.status) == ("red", "green")
    assert red.messages[0]["level"] == "fail"
    assert red.messages[0]["text"].startswith("There should be less than 42 users in that state")
    stats = red.dataset_stats["users_with_email_null"]
    assert stats["truncated"] is False
    assert stats["ms"] > 0
    assert CheckRun.objects.filter(checker=checker).count() == 2


def test_a_run_records_timings_and_stats(seed, shop):
    shop.set_null_emails(3)
    run = runs.execute(seed[1])
    assert run.finished >= run.started
    assert run.duration_ms >= run.sandbox_ms > 0
    assert run.fetch_ms > 0
    assert run.fuel_used > 0
    assert Checker.objects.get(pk=seed[1].pk).last_run_at == run.finished


def test_a_failing_dataset_is_an_error_naming_it_not_red(seed, shop):
    dataset = seed[0].rules.get().dataset
    dataset.sql = "SELECT username FROM no_such_table"
    dataset.save()
    run = runs.execute(seed[0])
    assert run.status == "error"
    assert run.error_kind == "dataset_error"
    assert "users_with_email_null" in run.error_detail
    assert "no_such_table" in run.error_detail


def test_a_rule_counts_past_the_row_cap(seed, shop):
    datasource = seed[0].rules.get().dataset.datasource
    datasource.row_cap = 7
    datasource.save()
    shop.set_null_emails(50)
    run = runs.execute(seed[0])
    assert run.status == "red"
    assert run.messages[0]["text"] == "There should be less than 42 users in that state (50, expected < 42)"
    assert run.dataset_stats["users_with_email_null"] == {
        "rows": None,
        "in_database": True,
        "ms": run.dataset_stats["users_with_email_null"]["ms"],
        "query_ms": run.dataset_stats["users_with_email_null"]["query_ms"],
        "truncated": False,
    }


def test_row_cap_truncation_is_recorded(seed, shop):
    datasource = seed[0].rules.get().dataset.datasource
    datasource.row_cap = 7
    datasource.save()
    shop.set_null_emails(20)
    run = runs.execute(seed[1])
    assert run.dataset_stats["users_with_email_null"]["rows"] == 7
    assert run.dataset_stats["users_with_email_null"]["truncated"] is True


def test_recording_sends_the_alarm_hook_inside_the_transaction(
    seed, shop, django_capture_on_commit_callbacks
):
    from django.db import connection

    seen = []

    def receiver(sender, checker, run, **kwargs):
        seen.append((checker.slug, run.status, connection.in_atomic_block))

    run_recorded.connect(receiver)
    try:
        shop.set_null_emails(1)
        runs.execute(seed[0])
    finally:
        run_recorded.disconnect(receiver)
    assert seen == [("few-null-emails", "green", True)]


def test_a_queued_run_is_taken_once(seed, shop):
    run = CheckRun.objects.create(checker=seed[0], trigger="schedule")
    taken = runs.claim_queued(run.pk)
    assert taken is not None
    assert (taken.pk, taken.uuid, taken.status, taken.trigger) == (run.pk, run.uuid, "running", "schedule")
    assert CheckRun.objects.get(pk=run.pk).started == taken.started
    assert (taken.checker, taken.checker.namespace.slug) == (seed[0], seed[0].namespace.slug)
    assert [rule.metric for rule in taken.checker.rule_list()] == ["row_count"]
    assert runs.claim_queued(run.pk) is None


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_a_claimed_run_reads_every_field_as_the_orm_does(seed, shop):
    """The claim reads its rows in plain SQL (``malleable.rows``): each value comes through the
    converters a queryset applies (JSON, encrypted text, times, booleans)."""
    rule = seed[0]
    source = rule.rules.get().dataset.datasource
    source.password = "s3cret"
    source.save()
    Checker.objects.filter(pk=rule.pk).update(params={"limit": [1, 2.5, None]}, last_run_at=timezone.now())
    run = CheckRun.objects.create(checker=rule, trigger="schedule", dataset_stats={"users": {"rows": 3}})

    taken = runs.claim_queued(run.pk)

    (read,) = taken.checker.rule_list()
    assert _fields(taken) == _fields(CheckRun.objects.get(pk=run.pk))
    assert _fields(taken.checker) == _fields(Checker.objects.get(pk=rule.pk))
    assert _fields(taken.checker.namespace) == _fields(rule.namespace)
    assert _fields(read) == _fields(rule.rules.get())
    assert _fields(read.dataset) == _fields(read.dataset.__class__.objects.get(pk=read.dataset_id))
    assert _fields(read.dataset.datasource) == _fields(source.__class__.objects.get(pk=source.pk))
    assert (read.dataset.datasource.password, taken.checker.params) == ("s3cret", {"limit": [1, 2.5, None]})
    assert taken.dataset_stats == {"users": {"rows": 3}}


def test_a_queued_code_checker_is_taken_with_its_checker(seed, shop):
    run = CheckRun.objects.create(checker=seed[1], trigger="schedule")
    taken = runs.claim_queued(run.pk)
    assert (taken.checker, taken.checker.source) == (seed[1], seed[1].source)
    assert runs.execute(taken.checker, taken.trigger, run=taken).status == "green"


def test_dispatch_queues_each_due_checker_once(seed, shop, django_capture_on_commit_callbacks, monkeypatch):
    from checkers import tasks

    sent = []
    monkeypatch.setattr(tasks.run_checker, "apply_async", lambda args, **kw: sent.append((args, kw)))
    Checker.objects.update(next_run_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.dispatch_due_checkers() == 2
        assert tasks.dispatch_due_checkers() == 0
    assert len(sent) == 2
    assert all(kw["time_limit"] > kw["soft_time_limit"] > 0 for _, kw in sent)


def test_schedule_follows_edits_disable_and_delete(seed):
    checker = seed[0]
    assert checker.next_run_at is not None
    checker.schedule_cron, checker.schedule_every = "", 600
    checker.save()
    assert timedelta(seconds=590) < checker.next_run_at - timezone.now() <= timedelta(seconds=600)
    checker.enabled = False
    checker.save()
    assert Checker.objects.get(pk=checker.pk).next_run_at is None
    assert not Checker.objects.due(timezone.now() + timedelta(days=1)).filter(pk=checker.pk).exists()


def run_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "run_checker", *args],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_checker_reports_json_and_exit_code(seed, shop, capsys):
    shop.set_null_emails(50)
    with pytest.raises(SystemExit) as exited:
        call_command("run_checker", "alpha/few-null-emails", "--json")
    assert exited.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {
        "status",
        "messages",
        "error",
        "logs",
        "duration_ms",
        "fuel_used",
        "run_id",
        "state",
        "held_alarms",
    }
    assert report["status"] == report["state"] == "red"
    assert CheckRun.objects.get(uuid=report["run_id"]).status == "red"


def test_run_checker_dry_run_records_nothing(seed, shop, capsys):
    shop.set_null_emails(1)
    call_command("run_checker", "alpha/few-null-emails-py", "--dry-run", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "green"
    assert report["run_id"] is None
    assert not CheckRun.objects.exists()


@pytest.mark.parametrize("ref", ["alpha", "alpha/", "alpha/nope", "nope/few-null-emails"])
def test_run_checker_bad_reference_is_usage_error(seed, ref):
    with pytest.raises(Exception) as raised:
        call_command("run_checker", ref)
    assert getattr(raised.value, "returncode", None) == 64


def test_saving_other_fields_keeps_the_next_run(seed):
    checker = Checker.objects.get(pk=seed[1].pk)
    planned = checker.next_run_at
    checker.name = "Renamed"
    checker.save()
    assert Checker.objects.get(pk=checker.pk).next_run_at == planned


@pytest.mark.parametrize(
    ("cron", "every", "message"),
    [("", None, "Set when it runs"), ("*/5 * * * *", 60, "not both"), ("61 * * * *", None, "not a cron")],
)
def test_a_checker_schedule_error_says_what_is_wrong(seed, cron, every, message):
    from django.core.exceptions import ValidationError

    checker = seed[0]
    checker.schedule_cron, checker.schedule_every = cron, every
    with pytest.raises(ValidationError, match=message):
        checker.full_clean()
