"""A real Chromium against a live server: Debian's binary, driven by Playwright, never downloaded.

pytest-playwright's ``context`` and ``page`` fixtures are used as they are (so ``--screenshot
only-on-failure``, ``--tracing on`` and ``--headed`` work); ``playwright`` and ``browser`` are
replaced by package-scoped ones. Playwright's sync API leaves its event loop marked as running
in the main thread, which Django's ORM refuses as "an async context"; scoped to this package, the
loop stops, and the allowance ends, before any other package's tests run.

Without ``/usr/bin/chromium`` (or the playwright package) the tests skip, or fail when
``MALLEABLE_REQUIRE_SERVICES=1`` (CI runs ``.ci/install-browser`` first).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.personas import PASSWORD
from tests.services import services_required

try:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        Locator,
        Page,
        Playwright,
        expect,
        sync_playwright,
    )
except ImportError:
    if services_required():
        raise
    pytest.skip("playwright is not installed: pip install -r requirements.txt", allow_module_level=True)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# How long a step may wait for the page (an element, a navigation, an expectation). Generous, so
# a slow machine or a cold sandbox cache never fails a test: a limit, never a speed assertion.
TIMEOUT_MS = 30_000


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing: run .ci/install-browser (apt-get install chromium)"
        if services_required():
            pytest.fail(f"{message}, and MALLEABLE_REQUIRE_SERVICES is set", pytrace=False)
        pytest.skip(message)
    return {
        "headless": True,
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as driver:
            yield driver
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(playwright: Playwright, browser_type_launch_args: dict) -> Iterator[Browser]:
    browser = playwright.chromium.launch(**browser_type_launch_args)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """Every ``page.goto("/n/alpha/")`` and ``expect(...).to_have_url`` resolves against it.

    By address, not "localhost": where /etc/hosts has no ::1 line, resolving localhost asks the
    DNS server for an IPv6 address, and without a network that now and then stalls 5 seconds.
    """
    return live_server.url.replace("://localhost:", "://127.0.0.1:")


@pytest.fixture(scope="session")
def browser_context_args(base_url: str) -> dict:
    return {
        "base_url": base_url,
        "viewport": DESKTOP,
        "locale": "en-GB",
        "timezone_id": "UTC",
    }


@pytest.fixture
def context(context: BrowserContext) -> BrowserContext:
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture(autouse=True)
def _patient_expect() -> None:
    expect.set_options(timeout=TIMEOUT_MS)


def sign_in(page: Page, username: str, password: str = PASSWORD) -> Page:
    """Through the real form, as a person would; waits until the app has let the user in."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


@pytest.fixture
def signed_in(page: Page, personas) -> Callable[[str], Page]:
    """``signed_in("editor")``: the page, signed in as that persona of ``tests/personas.py``."""

    def as_persona(role: str) -> Page:
        return sign_in(page, personas[role].get_username())

    return as_persona


@pytest.fixture
def new_page(browser: Browser, browser_context_args: dict) -> Callable[..., Page]:
    """A page in a fresh context of its own (a second person, or a phone) closed after the test."""
    contexts: list[BrowserContext] = []

    def open_page(**overrides) -> Page:
        context = browser.new_context(**{**browser_context_args, **overrides})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def folder(tmp_path) -> Path:
    """Where screenshots go: ``MALLEABLE_SCREENSHOTS`` (docs/screenshots, to refresh the docs'
    pictures), or a temporary folder, so CI still takes them and checks they are not empty."""
    chosen = os.environ.get("MALLEABLE_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shoot(page: Page, path: Path, full_page: bool = False) -> None:
    page.wait_for_load_state("networkidle")
    page.mouse.move(0, 0)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("document.fonts.ready")
    page.screenshot(path=path, animations="disabled", full_page=full_page)
    assert path.stat().st_size > 10_000, f"{path.name} is nearly empty"


def post_as_page(page: Page, path: str, form: dict | None = None):
    """POST from inside the signed-in page, with its session and CSRF token, as a crafted form would."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(path, form=form or {}, headers={"X-CSRFToken": token}, max_redirects=0)


def field(page: Page, label: str) -> Locator:
    """A form field by its whole label; crispy-forms adds an asterisk to required ones (and
    Playwright matches a pattern against the label's text as is, whitespace and all)."""
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}\*?\s*$"))


def follow(page: Page, link: Locator) -> None:
    """Click a link and wait for the new page's load event: its scripts (the editor's slug that
    follows the name, CodeMirror) run only then, and a person never types before them."""
    with page.expect_navigation():
        link.click()


def open_section(page: Page, name: str) -> None:
    """Follow a link of the main navigation bar (Checkers, Datasets, Runbooks, Alarm history...)."""
    follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True))
