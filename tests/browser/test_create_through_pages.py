"""Flow 2: an owner creates a datasource, a dataset and a rule checker through the pages, not the admin."""

import re

import pytest
from playwright.sync_api import Page, expect

from checkers.models import Checker, CheckerKind, Dataset, Datasource
from tests.browser.conftest import field, open_section
from tests.shop import SEED_MESSAGE

pytestmark = pytest.mark.browser


def add_datasource(page: Page, shop) -> None:
    open_section(page, "Datasources")
    page.get_by_test_id("new-datasource").click()
    field(page, "Name").fill("Shop")
    field(page, "Slug").fill("shop")
    field(page, "Engine").select_option(label="SQLite")
    field(page, "Connection URL").fill(shop.url)
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_test_id("connection-result")).to_contain_text("Connected.")
    page.get_by_role("button", name="Save datasource").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Saved datasource shop.")


def add_dataset(page: Page) -> None:
    open_section(page, "Datasets")
    page.get_by_test_id("new-dataset").click()
    field(page, "Name (slug)").fill("users_with_email_null")
    field(page, "Datasource").select_option(label="Shop")
    field(page, "SQL").fill("SELECT username FROM users WHERE email IS NULL")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview-stats")).to_contain_text("7 rows")
    expect(page.get_by_test_id("dataset-preview")).to_contain_text("null6")
    page.get_by_role("button", name="Save dataset").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Saved dataset users_with_email_null.")


def add_rule_checker(page: Page) -> None:
    open_section(page, "Checkers")
    page.get_by_test_id("new-checker").click()
    field(page, "Name").fill("Few null e-mails")
    expect(field(page, "Slug")).to_have_value("few-null-e-mails")
    page.get_by_label("Rule: no code, built with this form").check()
    field(page, "Dataset").select_option(label="users_with_email_null")
    field(page, "Measure").select_option(label="Row count")
    field(page, "Must be").select_option("<")
    field(page, "Value").fill("42")
    field(page, "Message").fill(SEED_MESSAGE)
    expect(page.get_by_test_id("rule-sentence")).to_have_text(
        "Green while the row count of users_with_email_null is < 42; red otherwise."
    )
    field(page, "Cron schedule").fill("*/5 * * * *")
    expect(page.get_by_test_id("schedule-preview")).to_contain_text(re.compile("every 5 minutes", re.I))
    page.get_by_role("button", name="Save checker").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Saved Few null e-mails.")


def test_owner_creates_datasource_dataset_and_rule_checker_through_the_pages(signed_in, shop):
    shop.set_null_emails(7)
    page = signed_in("owner")
    expect(page.get_by_test_id("empty-dashboard")).to_be_visible()

    add_datasource(page, shop)
    add_dataset(page)
    add_rule_checker(page)

    expect(page).to_have_url("/n/alpha/checkers/few-null-e-mails/")
    expect(page.get_by_role("heading", name="Few null e-mails", level=1)).to_be_visible()
    expect(page.get_by_test_id("why")).to_contain_text("Not run yet")
    checker = Checker.objects.get(namespace__slug="alpha", slug="few-null-e-mails")
    assert checker.kind == CheckerKind.RULE
    assert (checker.rule_metric, checker.rule_op, checker.rule_value) == ("row_count", "<", 42)
    assert checker.rule_dataset == Dataset.objects.get(slug="users_with_email_null")
    assert checker.rule_dataset.datasource == Datasource.objects.get(namespace__slug="alpha", slug="shop")
    assert checker.schedule_cron == "*/5 * * * *"


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
