"""The admin's *Test run* action goes to the workers too, and waits for them at most one bound."""

import pytest
from django.urls import reverse

from checkers import tasks
from checkers.models import CheckRun, TestRun
from tests.shop import SEED_MESSAGE

CHANGELIST = "admin:checkers_checker_changelist"


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.mark.usefixtures("eager_tasks")
def test_the_admins_test_run_says_the_result_and_records_nothing(personas, login, seed, shop):
    shop.set_null_emails(50)
    data = {"action": "test_run", "_selected_action": [checker.pk for checker in seed]}
    response = login(personas.editor).post(reverse(CHANGELIST), data, follow=True)
    assert sorted(messages_of(response)) == [
        f"few-null-emails (test run): red {SEED_MESSAGE} (50, expected < 42)",
        f"few-null-emails-py (test run): red {SEED_MESSAGE} "
        "(50 rows in users_with_email_null, expected < 42)",
    ]
    assert TestRun.objects.count() == 2
    assert not CheckRun.objects.exists()


def test_a_test_run_past_the_bound_links_to_its_result(personas, login, seed, settings, monkeypatch):
    settings.TEST_RUN_WAIT_S = 0
    monkeypatch.setattr(tasks.run_test, "apply_async", lambda args, **options: None)
    data = {"action": "test_run", "_selected_action": [seed[0].pk]}
    response = login(personas.editor).post(reverse(CHANGELIST), data, follow=True)
    test_run = TestRun.objects.get()
    assert messages_of(response) == [
        "few-null-emails (test run): still running; "
        f'<a href="/n/alpha/test-runs/{test_run.uuid}/">its result</a>'
    ]


def test_a_viewer_cannot_test_run_from_the_admin(personas, login, seed):
    data = {"action": "test_run", "_selected_action": [seed[0].pk]}
    login(personas.viewer).post(reverse(CHANGELIST), data, follow=True)
    assert not TestRun.objects.exists()
