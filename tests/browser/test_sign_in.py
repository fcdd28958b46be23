"""Flow 1: a member signs in through the real form and lands on their namespace's dashboard."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_member_signs_in_and_lands_on_their_namespace_dashboard(page: Page, personas):
    sign_in(page, personas.editor.get_username())
    expect(page).to_have_url("/n/alpha/")
    expect(page.get_by_role("heading", name="Alpha team", level=1)).to_be_visible()


def test_wrong_password_is_refused_with_a_message(page: Page, personas):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(personas.editor.get_username())
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url("/accounts/login/")
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()


def test_signed_out_visitor_is_sent_to_sign_in(page: Page, personas):
    page.goto("/n/alpha/")
    expect(page).to_have_url("/accounts/login/?next=/n/alpha/")
    expect(page.get_by_role("heading", name="Sign in to Malleable")).to_be_visible()
