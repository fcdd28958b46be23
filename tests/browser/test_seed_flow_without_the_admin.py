"""The issue's "done when": a new team does the whole seed flow in the browser, never the admin.

Datasource, dataset, runbook, a rule checker on a schedule linked to the runbook, a Python
checker; the data goes bad and the checker alarms; someone acknowledges it and follows the
runbook; the data is fixed and the alarm resolves. The alarm history tells the story.
"""

import pytest
from playwright.sync_api import expect

from alarms.models import AlarmEvent
from checkers.models import Checker, CheckerKind
from tests.browser.conftest import open_section
from tests.browser.steps import (
    add_dataset,
    add_datasource,
    add_rule_checker,
    add_runbook,
    write_python_checker,
)
from tests.shop import SEED_MESSAGE, SEED_PYTHON

pytestmark = pytest.mark.browser

RUNBOOK = "Users without an e-mail"


def test_team_sets_up_alarms_acknowledges_and_resolves_without_the_admin(signed_in, shop):
    shop.set_null_emails(3)
    page = signed_in("owner")
    add_datasource(page, shop)
    add_dataset(page, rows_now=3)
    add_runbook(page, RUNBOOK, "## What to do\n\n1. Ask the **growth** team who imported users.\n")
    add_rule_checker(page, "Few null e-mails", runbook=RUNBOOK)
    write_python_checker(page, "Few null e-mails (Python)", SEED_PYTHON)
    page.get_by_role("button", name="Save checker").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Saved Few null e-mails (Python).")
    assert Checker.objects.get(slug="few-null-e-mails-python").kind == CheckerKind.PYTHON
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Ran Few null e-mails (Python): green.")

    shop.set_null_emails(50)
    page.goto("/n/alpha/checkers/few-null-e-mails/")
    page.get_by_role("button", name="Run now").click()
    expect(page.locator(".page-header").get_by_test_id("state")).to_have_attribute("data-state", "red")
    expect(page.get_by_test_id("open-alarm")).to_contain_text("Alarm open since")

    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_test_id("silence")).to_contain_text("acknowledged until green")
    page.get_by_test_id("runbook-link").click()
    expect(page.get_by_test_id("runbook-body").get_by_role("heading", name="What to do")).to_be_visible()
    linked = page.get_by_test_id("linked-checker")
    expect(linked).to_contain_text("Few null e-mails")
    expect(linked).to_contain_text(SEED_MESSAGE)
    expect(linked.get_by_test_id("state")).to_have_text("red")
    expect(page.get_by_test_id("recent-alarms")).to_contain_text("Fired Few null e-mails")

    shop.set_null_emails(3)
    page.get_by_test_id("linked-checker").click()
    page.get_by_role("button", name="Run now").click()
    expect(page.locator(".page-header").get_by_test_id("state")).to_have_attribute("data-state", "green")
    expect(page.get_by_test_id("silence")).to_have_count(0)

    open_section(page, "Alarm history")
    events = page.get_by_test_id("event")
    expect(events).to_have_count(2)
    expect(events.nth(0)).to_have_attribute("data-kind", "resolved")
    expect(events.nth(1)).to_have_attribute("data-kind", "fired")
    expect(page.get_by_test_id("transitions")).to_contain_text("red → green")
    expect(page.get_by_test_id("toggle-log")).to_contain_text("olivia")
    kinds = AlarmEvent.objects.order_by("created").values_list("kind", flat=True)
    assert list(kinds) == ["fired", "resolved"]
