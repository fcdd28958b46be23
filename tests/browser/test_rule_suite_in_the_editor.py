"""An editor builds a suite of rules in the editor: a second row from "Add a rule", each said in words."""

import pytest
from playwright.sync_api import expect

from checkers.models import Checker
from tests.browser.conftest import field

# A test run goes to a worker: here Celery runs it in the request, as with CELERY_TASK_ALWAYS_EAGER.
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_tasks")]


def test_editor_adds_a_second_rule_and_saves_the_suite(signed_in, seed, shop, tmp_path):
    shop.set_null_emails(50)
    page = signed_in("editor")
    page.goto("/n/alpha/checkers/new/")
    field(page, "Name").fill("Null e-mails suite")
    page.get_by_label("Rule: no code, built with this form").check()
    rows = page.get_by_test_id("rule-row")
    first, sentence = rows.nth(0), page.get_by_test_id("rule-sentence")
    first.get_by_label("Dataset").select_option(label="users_with_email_null")
    first.get_by_label("Value").fill("42")
    expect(sentence.nth(0)).to_have_text(
        "Green while the row count of users_with_email_null is < 42; red otherwise."
    )
    page.get_by_test_id("add-rule").click()
    expect(rows).to_have_count(2)
    second = rows.nth(1)
    expect(second.get_by_label("Dataset")).to_be_focused()
    second.get_by_label("Dataset").select_option(label="users_with_email_null")
    second.get_by_label("Measure").select_option(label="Distinct values in a column")
    expect(second.get_by_label("Column", exact=True)).to_be_visible()
    second.get_by_label("Column", exact=True).fill("username")
    second.get_by_label("Must be").select_option("between")
    second.get_by_label("Value").fill("1")
    second.get_by_label("And at most").fill("100")
    expect(sentence.nth(1)).to_have_text(
        "Green while the distinct count of column username of users_with_email_null is between 1 and 100;"
        " red otherwise."
    )
    page.screenshot(path=tmp_path / "suite.png", full_page=True)
    page.get_by_test_id("editor-test-run").click()
    expect(page.get_by_test_id("messages")).to_contain_text(
        "distinct count of username in users_with_email_null"
    )
    page.get_by_role("button", name="Save checker").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Saved Null e-mails suite.")
    expect(page.get_by_test_id("rules")).to_contain_text("row count in users_with_email_null < 42")
    checker = Checker.objects.get(slug="null-e-mails-suite")
    assert [(r.metric, r.column, r.op, r.value, r.high) for r in checker.rules.all()] == [
        ("row_count", "", "<", 42, None),
        ("distinct_count", "username", "between", 1, 100),
    ]
