"""What a person does on the pages, one step at a time, shared by the flows that need it."""

from __future__ import annotations

from django.utils.text import slugify
from playwright.sync_api import Page, expect

from tests.browser.conftest import field, follow, open_section
from tests.shop import SEED_MESSAGE


def add_datasource(page: Page, shop) -> None:
    open_section(page, "Datasources")
    follow(page, page.get_by_test_id("new-datasource"))
    field(page, "Name").fill("Shop")
    field(page, "Slug").fill("shop")
    field(page, "Engine").select_option(label="SQLite")
    field(page, "Connection URL").fill(shop.url)
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_test_id("connection-result")).to_contain_text("Connected.")
    page.get_by_role("button", name="Save datasource").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Saved datasource shop.")


def add_dataset(page: Page, rows_now: int) -> None:
    open_section(page, "Datasets")
    follow(page, page.get_by_test_id("new-dataset"))
    field(page, "Name (slug)").fill("users_with_email_null")
    field(page, "Datasource").select_option(label="Shop")
    field(page, "SQL").fill("SELECT username FROM users WHERE email IS NULL")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview-stats")).to_contain_text(f"{rows_now} rows")
    expect(page.get_by_test_id("dataset-preview")).to_contain_text("null0")
    page.get_by_role("button", name="Save dataset").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Saved dataset users_with_email_null.")


def add_runbook(page: Page, title: str, body: str) -> None:
    open_section(page, "Runbooks")
    follow(page, page.get_by_test_id("new-runbook"))
    field(page, "Title").fill(title)
    field(page, "Slug").fill("null-emails")
    field(page, "Runbook (Markdown)").fill(body)
    page.get_by_role("button", name="Save runbook").click()
    expect(page.get_by_test_id("flash")).to_contain_text(f"Saved runbook {title}.")


def add_rule_checker(page: Page, name: str, runbook: str | None = None) -> None:
    open_section(page, "Checkers")
    follow(page, page.get_by_test_id("new-checker"))
    field(page, "Name").fill(name)
    expect(field(page, "Slug")).to_have_value(slugify(name))
    page.get_by_label("Rule: no code, built with this form").check()
    field(page, "Dataset").select_option(label="users_with_email_null")
    field(page, "Measure").select_option(label="Row count")
    field(page, "Must be").select_option("<")
    field(page, "Value").fill("42")
    field(page, "Message").fill(SEED_MESSAGE)
    expect(page.get_by_test_id("rule-sentence")).to_have_text(
        "Green while the row count of users_with_email_null is < 42; red otherwise."
    )
    if runbook:
        field(page, "Runbook").select_option(label=runbook)
    field(page, "Cron schedule").fill("*/15 * * * *")
    expect(page.get_by_test_id("schedule-preview")).to_contain_text("Every 15 minutes, next at")
    page.get_by_role("button", name="Save checker").click()
    expect(page.get_by_test_id("flash")).to_contain_text(f"Saved {name}.")


def write_python_checker(page: Page, name: str, source: str) -> None:
    """Fill the editor for a Python checker reading users_with_email_null, on the default schedule."""
    page.goto("/n/alpha/checkers/new/")
    field(page, "Name").fill(name)
    expect(field(page, "Slug")).to_have_value(slugify(name))
    page.get_by_label("Python code").check()
    page.get_by_label("users_with_email_null").check()
    page.get_by_test_id("code-editor").click()
    page.keyboard.insert_text(source)
    expect(page.get_by_test_id("schedule-preview")).to_contain_text("Every 5 minutes, next at")
