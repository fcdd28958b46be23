"""The dashboard follows the checkers without a reload: a run recorded elsewhere shows up by itself."""

import pytest
from playwright.sync_api import expect

from checkers import runs
from pages.views import dashboard as views

pytestmark = pytest.mark.browser


def test_dashboard_shows_a_new_red_run_without_a_full_reload(signed_in, seed, shop, monkeypatch):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 1)
    rule, _ = seed
    shop.set_null_emails(3)
    runs.execute(rule)
    page = signed_in("viewer")
    row = page.locator("[data-testid=checker-row][data-checker=few-null-emails]")
    expect(row).to_have_attribute("data-state", "green")
    page.evaluate("window.stillTheSamePage = true")

    shop.set_null_emails(50)
    runs.execute(rule)

    expect(row).to_have_attribute("data-state", "red")
    expect(page.get_by_test_id("count-red")).to_contain_text("1")
    assert page.evaluate("window.stillTheSamePage") is True
