"""Flow 4: after a red run, the team fixes the data and the next run shows green."""

import pytest
from playwright.sync_api import expect

from checkers import runs
from checkers.models import CheckRun

pytestmark = pytest.mark.browser


def test_checker_turns_green_once_the_data_is_fixed(signed_in, seed, shop):
    rule, _ = seed
    shop.set_null_emails(50)
    runs.execute(rule)
    page = signed_in("editor")
    page.goto(rule.get_absolute_url())
    expect(page.locator(".page-header").get_by_test_id("state")).to_have_attribute("data-state", "red")

    shop.set_null_emails(3)
    page.get_by_role("button", name="Run now").click()

    expect(page.get_by_test_id("flash")).to_contain_text("Ran Few null e-mails: green.")
    expect(page.locator(".page-header").get_by_test_id("state")).to_have_attribute("data-state", "green")
    expect(page.get_by_test_id("why")).to_contain_text("Green since")
    expect(page.get_by_test_id("run-row").get_by_test_id("state")).to_have_text(["green", "red"])
    assert list(CheckRun.objects.order_by("finished").values_list("status", flat=True)) == ["red", "green"]

    page.goto("/n/alpha/")
    row = page.locator("[data-testid=checker-row][data-checker=few-null-emails]")
    expect(row).to_have_attribute("data-state", "green")
