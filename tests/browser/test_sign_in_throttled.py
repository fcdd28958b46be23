"""Guessing a password through the real form stops at the tenth failure, and the page says until when."""

import pytest
from playwright.sync_api import Page, expect

from tests.personas import PASSWORD

pytestmark = pytest.mark.browser


def try_password(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_after_ten_failures_even_the_right_password_shows_when_to_retry(page: Page, personas):
    username = personas.editor.get_username()
    page.goto("/accounts/login/")
    for attempt in range(9):
        try_password(page, username, f"guess {attempt}")
        expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()
    try_password(page, username, "guess 9")
    locked = page.get_by_test_id("locked-out")
    expect(locked.get_by_role("heading", name="Too many sign-in attempts")).to_be_visible()

    page.goto("/accounts/login/")
    try_password(page, username, PASSWORD)
    expect(locked).to_contain_text(f"After 10 failed attempts for {username} from your address")
    expect(locked).to_contain_text("in 15 minutes. Each attempt before then starts the wait again.")
    page.goto("/n/alpha/")
    expect(page).to_have_url("/accounts/login/?next=/n/alpha/")
