"""Flow 2: an owner creates a datasource, a dataset and a rule checker through the pages, not the admin."""

import pytest
from playwright.sync_api import expect

from checkers.models import Checker, CheckerKind, Dataset, Datasource
from tests.browser.conftest import field
from tests.browser.steps import add_dataset, add_datasource, add_rule_checker

pytestmark = pytest.mark.browser


def test_owner_creates_datasource_dataset_and_rule_checker_through_the_pages(signed_in, shop):
    shop.set_null_emails(7)
    page = signed_in("owner")
    expect(page.get_by_test_id("empty-dashboard")).to_be_visible()

    add_datasource(page, shop)
    add_dataset(page, rows_now=7)
    add_rule_checker(page, "Few null e-mails")

    expect(page).to_have_url("/n/alpha/checkers/few-null-e-mails/")
    expect(page.get_by_test_id("schedule-text")).to_contain_text("Every 15 minutes, next at")
    expect(page.get_by_role("heading", name="Few null e-mails", level=1)).to_be_visible()
    expect(page.get_by_test_id("why")).to_contain_text("Not run yet")
    checker = Checker.objects.get(namespace__slug="alpha", slug="few-null-e-mails")
    assert checker.kind == CheckerKind.RULE
    rule = checker.rules.get()
    assert (rule.metric, rule.op, rule.value) == ("row_count", "<", 42)
    assert rule.dataset == Dataset.objects.get(slug="users_with_email_null")
    assert rule.dataset.datasource == Datasource.objects.get(namespace__slug="alpha", slug="shop")
    assert checker.schedule_cron == "*/15 * * * *"


def test_datasource_page_never_shows_the_stored_url(signed_in, shop):
    page = signed_in("owner")
    page.goto("/n/alpha/datasources/new/")
    field(page, "Name").fill("Shop")
    field(page, "Slug").fill("shop")
    field(page, "Engine").select_option(label="SQLite")
    field(page, "Connection URL").fill(shop.url)
    page.get_by_role("button", name="Save datasource").click()
    page.get_by_role("link", name="Shop").click()
    expect(field(page, "Connection URL")).to_have_value("")
    assert str(shop.path) not in page.content()
