"""Flow 6: an editor acknowledges a red checker; its alarms stay silent until it is green again."""

import pytest
from playwright.sync_api import expect

from alarms.models import AlarmState
from checkers import runs

pytestmark = pytest.mark.browser


def test_editor_acknowledges_a_red_checker(signed_in, personas, seed, shop):
    rule, _ = seed
    shop.set_null_emails(50)
    runs.execute(rule)
    page = signed_in("editor")
    page.goto(rule.get_absolute_url())

    page.get_by_role("button", name="Acknowledge").click()

    expect(page.get_by_test_id("flash")).to_contain_text(
        "Acknowledged Few null e-mails: no more alarms until it is green again."
    )
    expect(page.get_by_test_id("silence")).to_contain_text("acknowledged until green")
    expect(page.get_by_role("button", name="Withdraw acknowledgement")).to_be_visible()
    expect(page.get_by_role("button", name="Acknowledge", exact=True)).to_have_count(0)
    expect(page.get_by_test_id("toggles")).to_contain_text("eddie")
    state = AlarmState.objects.get(checker=rule)
    assert state.acknowledged_by == personas.editor

    page.goto("/n/alpha/")
    row = page.locator("[data-testid=checker-row][data-checker=few-null-emails]")
    expect(row.get_by_test_id("marker-acked")).to_be_visible()


def test_acknowledgement_ends_when_the_checker_is_green_again(signed_in, seed, shop):
    rule, _ = seed
    shop.set_null_emails(50)
    runs.execute(rule)
    page = signed_in("editor")
    page.goto(rule.get_absolute_url())
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("button", name="Withdraw acknowledgement")).to_be_visible()

    shop.set_null_emails(3)
    page.get_by_role("button", name="Run now").click()

    expect(page.locator(".page-header").get_by_test_id("state")).to_have_attribute("data-state", "green")
    expect(page.get_by_test_id("silence")).to_have_count(0)
    expect(page.get_by_role("button", name="Withdraw acknowledgement")).to_have_count(0)
    assert AlarmState.objects.get(checker=rule).acknowledged_at is None
