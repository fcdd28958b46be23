"""Test runs go to a worker; the page waits a bounded time, then polls the test run's own URL.

The worker is played by calling the task here (``tests/checkers/test_test_run_worker.py`` runs a
real one); sending it to the broker is the one call replaced, so nothing waits in a queue.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from checkers import quotas, tasks, testruns
from checkers.models import Checker, CheckRun, Dataset, TestRun
from checkers.sandbox import ErrorKind
from tests.pages.test_editor import NEW, code_form
from tests.shop import SEED_MESSAGE, SEED_PYTHON

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def sent(monkeypatch) -> list[tuple]:
    """What was sent to the workers, in place of the broker."""
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.run_test, "apply_async", lambda args, **options: sent.append((args, options)))
    return sent


@pytest.fixture
def dataset(seed) -> Dataset:
    return seed[0].rules.get().dataset


@pytest.fixture
def no_wait(settings):
    settings.TEST_RUN_WAIT_S = 0


def poll(client, test_run: TestRun) -> str:
    return client.get(test_run.get_absolute_url(), **HTMX).content.decode()


def test_the_editor_says_still_running_then_the_poll_shows_the_result(
    personas, login, dataset, shop, sent, no_wait
):
    shop.set_null_emails(50)
    client = login(personas.editor)
    response = client.post(NEW, code_form(dataset, "python", SEED_PYTHON, action="test"), **HTMX)
    test_run = TestRun.objects.get()
    content = response.content.decode()
    assert 'data-testid="test-running"' in content
    assert "still running" in content
    assert f'hx-get="/n/alpha/test-runs/{test_run.uuid}/"' in content
    assert 'hx-trigger="every 1s"' in content
    assert test_run.finished is None
    assert test_run.requested_by == personas.editor
    assert test_run.checker is None
    assert test_run.draft["datasets"] == [dataset.pk]
    assert sent == [((test_run.pk,), {"time_limit": 30, "soft_time_limit": 25})]
    assert 'data-testid="test-running"' in poll(client, test_run)

    tasks.run_test(test_run.pk)

    content = poll(client, test_run)
    assert "hx-trigger" not in content
    assert 'data-state="red"' in content
    assert f"{SEED_MESSAGE} (50" in content
    assert "Nothing was recorded and nobody was alarmed." in content
    assert not CheckRun.objects.exists()
    assert not Checker.objects.filter(slug="few-null-python").exists()


def test_the_checker_pages_test_run_goes_to_the_worker_too(
    personas, login, python_checker, shop, sent, no_wait
):
    shop.set_null_emails(3)
    client = login(personas.editor)
    content = client.post(f"{python_checker.get_absolute_url()}test/", **HTMX).content.decode()
    test_run = TestRun.objects.get()
    assert 'data-testid="test-running"' in content
    assert (test_run.checker, test_run.draft) == (python_checker, None)
    tasks.run_test(test_run.pk)
    assert 'data-state="green"' in poll(client, test_run)
    assert not CheckRun.objects.exists()


def test_any_member_reads_a_test_run_and_outsiders_get_404(personas, login, python_checker, sent):
    test_run = tasks.start_test_run(testruns.create(python_checker, personas.editor))
    url = test_run.get_absolute_url()
    assert login(personas.viewer).get(url, **HTMX).status_code == 200
    assert login(personas.viewer).post(url).status_code == 405
    page = login(personas.owner).get(url)
    assert page.status_code == 200
    assert "<h1" in page.content.decode() and "Test run of Few null e-mails (Python)" in page.content.decode()
    outsider = login(personas.outsider)
    assert outsider.get(url).status_code == 404
    assert outsider.get(f"/n/beta/test-runs/{test_run.uuid}/").status_code == 404


def test_a_spent_budget_answers_at_once_with_the_skipped_message(
    personas, login, python_checker, sent, settings
):
    settings.QUOTA_WORKER_SECONDS = 1
    TestRun.objects.create(namespace=personas.a, finished=timezone.now(), duration_ms=1500.0, result={})
    response = login(personas.editor).post(f"{python_checker.get_absolute_url()}test/", **HTMX)
    content = response.content.decode()
    assert 'data-testid="test-skipped"' in content
    assert "skipped: namespace alpha used its 1 worker-seconds for this hour; next budget at" in content
    assert sent == []
    assert not CheckRun.objects.exists()


@pytest.mark.usefixtures("eager_tasks")
def test_test_runs_count_against_the_namespaces_worker_seconds(personas, python_checker, settings):
    settings.QUOTA_WORKER_SECONDS = 3600
    test_run = tasks.start_test_run(testruns.create(python_checker, personas.editor))
    test_run.refresh_from_db()
    assert test_run.duration_ms > 0
    settings.QUOTA_WORKER_SECONDS = test_run.duration_ms / 1000
    quotas.forget()  # as if a second had passed (quotas.FRESH): the worker asks again
    assert quotas.budget_spent(personas.a).startswith("skipped: namespace alpha used its")
    assert quotas.budget_spent(personas.b) is None


def test_a_duplicate_delivery_does_nothing_and_old_test_runs_are_forgotten(personas, python_checker, sent):
    old = TestRun.objects.create(namespace=personas.b, created=timezone.now() - timedelta(hours=1, seconds=1))
    recent = TestRun.objects.create(namespace=personas.b, created=timezone.now() - timedelta(minutes=59))
    test_run = tasks.start_test_run(testruns.create(python_checker, personas.editor))
    tasks.run_test(test_run.pk)
    test_run.refresh_from_db()
    first = (test_run.finished, test_run.result)
    tasks.run_test(test_run.pk)
    test_run.refresh_from_db()
    assert (test_run.finished, test_run.result) == first
    assert set(TestRun.objects.values_list("pk", flat=True)) == {recent.pk, test_run.pk}
    assert not TestRun.objects.filter(pk=old.pk).exists()


def test_a_test_run_the_worker_abandons_says_so_and_stops_the_polling(personas, login, python_checker, sent):
    test_run = tasks.start_test_run(testruns.create(python_checker, personas.editor))
    testruns.give_up(test_run, ErrorKind.TIMEOUT, "the test run passed its worker time limit of 80 s")
    content = poll(login(personas.editor), test_run)
    assert "Error: <code>timeout</code>" in content
    assert "timeout: the test run passed its worker time limit of 80 s" in content
    assert "hx-trigger" not in content


def test_a_draft_reads_only_datasets_of_its_own_namespace(personas, dataset, b_objects):
    _, foreign = b_objects
    checker = Checker(namespace=personas.a, slug="typed", kind="python", source=SEED_PYTHON)
    test_run = testruns.create(checker, personas.editor, declared=[dataset, foreign])
    assert test_run.draft["datasets"] == [dataset.pk, foreign.pk]
    rebuilt, declared, rules = testruns.rebuild(test_run)
    assert declared == [dataset]
    assert rules == []
    assert (rebuilt.slug, rebuilt.source, rebuilt.namespace) == ("typed", SEED_PYTHON, personas.a)
