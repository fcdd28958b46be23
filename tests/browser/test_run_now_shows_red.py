"""Flow 3: an editor runs a checker whose data breaks the rule, and the pages show it red."""

import pytest
from playwright.sync_api import expect

from checkers.models import CheckRun, Trigger
from tests.shop import SEED_MESSAGE

pytestmark = pytest.mark.browser


def test_run_now_records_a_red_run_and_the_pages_show_it_red(signed_in, seed, shop):
    shop.set_null_emails(50)
    page = signed_in("editor")
    page.get_by_role("link", name="Few null e-mails", exact=True).click()
    expect(page.get_by_test_id("why")).to_contain_text("Not run yet")

    page.get_by_role("button", name="Run now").click()

    expect(page.get_by_test_id("flash")).to_contain_text(f"Ran Few null e-mails: red. {SEED_MESSAGE}")
    expect(page.locator(".page-header").get_by_test_id("state")).to_have_attribute("data-state", "red")
    expect(page.get_by_test_id("why")).to_contain_text(SEED_MESSAGE)
    expect(page.get_by_test_id("run-row")).to_have_count(1)
    expect(page.get_by_test_id("run-row").get_by_test_id("state")).to_have_text("red")
    run = CheckRun.objects.get(checker__slug="few-null-emails")
    assert (run.status, run.trigger) == ("red", Trigger.MANUAL)

    page.get_by_role("link", name="Alpha team").first.click()
    row = page.locator("[data-testid=checker-row][data-checker=few-null-emails]")
    expect(row).to_have_attribute("data-state", "red")
    expect(page.get_by_test_id("count-red")).to_contain_text("1")
