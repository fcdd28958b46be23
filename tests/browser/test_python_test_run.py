"""Flow 5: an editor writes a Python checker in the code editor and test-runs it before saving."""

import pytest
from playwright.sync_api import expect

from checkers import tasks
from checkers.models import Checker, CheckRun
from tests.browser.steps import write_python_checker
from tests.shop import SEED_MESSAGE, SEED_PYTHON

# A test run goes to a worker: here Celery runs it in the request, as with CELERY_TASK_ALWAYS_EAGER.
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_tasks")]

BROKEN_PYTHON = "rows = datasets['users_with_email_null']\nok(len(rows) +)\n"


def test_test_run_of_a_python_checker_shows_its_fail_message_and_saves_nothing(signed_in, seed, shop):
    shop.set_null_emails(50)
    page = signed_in("editor")
    write_python_checker(page, "Null e-mails in Python", SEED_PYTHON)
    expect(page.get_by_test_id("code-editor")).to_contain_text("assertLessThan")

    page.get_by_role("button", name="Test run").click()

    result = page.get_by_test_id("test-result")
    expect(result.get_by_test_id("state")).to_have_text("red")
    expect(result.get_by_test_id("messages")).to_contain_text(f"fail {SEED_MESSAGE} (50")
    expect(result).to_contain_text("Nothing was recorded and nobody was alarmed.")
    expect(result.get_by_test_id("dataset-stats")).to_contain_text("users_with_email_null")
    assert not Checker.objects.filter(slug="null-e-mails-in-python").exists()
    assert not CheckRun.objects.exists()


def test_test_run_points_at_the_line_of_a_python_error(signed_in, seed, shop):
    shop.set_null_emails(3)
    page = signed_in("editor")
    write_python_checker(page, "Null e-mails in Python", BROKEN_PYTHON)

    page.get_by_role("button", name="Test run").click()

    expect(page.get_by_test_id("test-form-errors")).to_contain_text("line 2")
    marked = page.locator(".CodeMirror-code > div", has=page.locator(".cm-error-line"))
    expect(marked).to_have_count(1)
    expect(marked).to_contain_text("ok(len(rows) +)")


def test_a_fix_and_a_test_run_take_away_the_failed_saves_errors(signed_in, seed, shop):
    shop.set_null_emails(3)
    page = signed_in("editor")
    write_python_checker(page, "Null e-mails in Python", BROKEN_PYTHON)
    page.get_by_role("button", name="Save checker").click()
    expect(page.get_by_test_id("form-errors")).to_contain_text("The checker was not saved")
    expect(page.locator(".invalid-feedback")).to_have_count(1)  # the rule rows are not read, not checked
    expect(page.locator(".invalid-feedback")).to_contain_text("SyntaxError")
    expect(page.locator(".cm-error-line")).to_have_count(1)

    page.get_by_test_id("code-editor").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(SEED_PYTHON)
    expect(page.locator(".invalid-feedback")).to_have_count(0)
    expect(page.locator(".cm-error-line")).to_have_count(0)
    page.get_by_role("button", name="Test run").click()

    expect(page.get_by_test_id("test-result").get_by_test_id("state")).to_have_text("green")
    expect(page.get_by_test_id("form-errors")).to_have_count(0)
    assert not Checker.objects.filter(slug="null-e-mails-in-python").exists()


def test_a_slow_test_run_says_still_running_then_shows_the_result_in_place(
    signed_in, seed, shop, settings, monkeypatch
):
    """No eager Celery here: the page waits no time, the test plays the worker once the page polls."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.TEST_RUN_WAIT_S = 0
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_test, "apply_async", lambda args, **options: sent.append(args[0]))
    shop.set_null_emails(50)
    page = signed_in("editor")
    write_python_checker(page, "Null e-mails in Python", SEED_PYTHON)

    page.get_by_role("button", name="Test run").click()

    expect(page.get_by_test_id("test-running")).to_contain_text("still running")
    assert len(sent) == 1
    tasks.run_test(sent[0])
    result = page.get_by_test_id("test-result")
    expect(result.get_by_test_id("state")).to_have_text("red")
    expect(result.get_by_test_id("messages")).to_contain_text(f"fail {SEED_MESSAGE} (50")
    expect(page.get_by_test_id("test-running")).to_have_count(0)
    assert not CheckRun.objects.exists()
