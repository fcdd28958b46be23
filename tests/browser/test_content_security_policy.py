"""Every main page runs under the Content-Security-Policy without one violation.

The pages' scripts and styles come from static files only; a stray inline script, event
handler or style attribute would be refused by Chromium and reported here, by the page's
``securitypolicyviolation`` events and by the console. A page served without the policy fails too.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.browser.worlds import DEMO_USERNAME, demo_with_history

pytestmark = pytest.mark.browser

# Runs before any script of each page, so no violation, even the first, goes unseen.
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__violations.push(`${event.effectiveDirective} refused ${event.blockedURI} at ${where}`);
});
"""
PAGES = {
    "dashboard": ("/n/demo/", "checker-row"),
    "checker page": ("/n/demo/checkers/largest-order/", "run-row"),
    "rule editor": ("/n/demo/checkers/few-null-emails-rule/edit/", None),
    "runbook page": ("/n/demo/runbooks/large-orders/", "linked-checker"),
    "runbooks": ("/n/demo/runbooks/", None),
    "datasets": ("/n/demo/datasets/", None),
    "datasources": ("/n/demo/datasources/", None),
    "alarm history": ("/n/demo/alarms/", None),
    "settings: members": ("/n/demo/settings/", None),
    "settings: channels": ("/n/demo/settings/channels/", None),
    "settings: maintenance": ("/n/demo/settings/maintenance/", None),
    "settings: alarm defaults": ("/n/demo/settings/alarms/", None),
    "admin": ("/admin/", None),
    "admin: checkers": ("/admin/checkers/checker/", None),
    "admin: add a checker": ("/admin/checkers/checker/add/", None),
}


@pytest.fixture
def demo(settings, tmp_path, monkeypatch):
    monkeypatch.setattr("alarms.models.outbox.queue_delivery", lambda notification_id: None)
    settings.DATASOURCE_SQLITE_DIR = tmp_path
    return demo_with_history(tmp_path)


@pytest.fixture
def watched(page: Page) -> tuple[Page, list[str]]:
    """The page, and every CSP complaint Chromium writes to its console."""
    console: list[str] = []
    page.context.add_init_script(LISTEN)
    page.on(
        "console",
        lambda message: console.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return page, console


def visit(page: Page, path: str) -> None:
    """Open ``path``, insist it was served under the policy, and wait until it has settled."""
    response = page.goto(path)
    assert response is not None and response.ok, path
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, f"{path} has no policy: {policy!r}"
    page.wait_for_load_state("networkidle")


def violations(page: Page) -> list[str]:
    return page.evaluate("window.__violations")


def test_the_main_pages_pass_the_policy(watched, demo):
    page, console = watched
    sign_in(page, DEMO_USERNAME)
    seen = {}
    for name, (path, testid) in PAGES.items():
        visit(page, path)
        if testid:
            expect(page.get_by_test_id(testid).first).to_be_visible()
        seen[name] = violations(page)
    assert seen == {name: [] for name in PAGES}
    assert console == []


def test_the_code_editor_and_its_test_run_pass_the_policy(watched, demo, settings):
    page, console = watched
    sign_in(page, DEMO_USERNAME)
    visit(page, "/n/demo/checkers/few-null-emails/edit/")
    expect(page.locator(".CodeMirror")).to_be_visible()
    expect(page.get_by_test_id("code-editor")).to_contain_text("assertLessThan")
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the test run finishes in the request: no worker here
    page.get_by_role("button", name="Test run").click()
    expect(page.get_by_test_id("test-result").get_by_test_id("state")).to_be_visible()
    page.locator(".CodeMirror").click()
    page.keyboard.type("# typed under the policy\n")
    expect(page.get_by_test_id("code-editor")).to_contain_text("typed under the policy")
    assert violations(page) == []
    assert console == []


def test_the_checker_pages_menus_pass_the_policy(watched, demo):
    page, console = watched
    sign_in(page, DEMO_USERNAME)
    visit(page, "/n/demo/checkers/largest-order/")
    page.get_by_role("button", name="Mute").click()
    expect(page.locator("form.dropdown-form").first).to_be_visible()
    assert violations(page) == []
    assert console == []


def test_an_inline_script_is_refused_and_seen(watched, demo):
    """The listener's own proof: what an injected script would do does not happen, and it is reported."""
    page, console = watched
    sign_in(page, DEMO_USERNAME)
    visit(page, "/n/demo/")
    ran = page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__ran = true";
            document.body.append(script);
            const div = document.createElement("div");
            div.innerHTML = '<img src="/static/none.png" onerror="window.__ran = true">';
            document.body.append(div);
            return window.__ran === true;
        }"""
    )
    assert ran is False
    page.wait_for_function("window.__violations.length >= 1")
    assert violations(page)[0].startswith("script-src-elem refused inline at ")
    assert any("script-src" in message for message in console)
