"""Every main page passes axe-core's WCAG 2.1 A and AA checks, colour contrast included.

axe-core is vendored under ``tests/browser/vendor/`` (nothing is downloaded) and evaluated in the
page through the browser's debugging protocol, so the pages' Content-Security-Policy stays on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, sign_in
from tests.browser.test_content_security_policy import PAGES, visit
from tests.browser.worlds import DEMO_USERNAME, demo_with_history

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
STANDARDS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Django's own admin widget for many-to-many fields (SelectFilter2.js) puts aria-label on a plain
# <span>; that markup is Django's, not ours, so that one rule is not run on the admin's pages.
DJANGO_ADMIN_FINDINGS = ["aria-prohibited-attr"]


@pytest.fixture
def demo(settings, tmp_path, monkeypatch):
    monkeypatch.setattr("alarms.models.queue_delivery", lambda notification_id: None)
    settings.DATASOURCE_SQLITE_DIR = tmp_path
    return demo_with_history(tmp_path)


def problems(page: Page) -> list[str]:
    """axe-core's violations on the page as it is now, one line per rule and element."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)
    skipped = DJANGO_ADMIN_FINDINGS if "/admin/" in page.url else []
    found = page.evaluate(
        """([tags, skipped]) => axe.run(document, {
            runOnly: {type: "tag", values: tags},
            rules: Object.fromEntries(skipped.map((id) => [id, {enabled: false}])),
        }).then((result) => result.violations)""",
        [STANDARDS, skipped],
    )
    return [
        f"{violation['id']} ({violation['impact']}): {node['target']} {node['failureSummary']}"
        for violation in found
        for node in violation["nodes"]
    ]


def test_the_main_pages_meet_wcag_aa(page, demo):
    sign_in(page, DEMO_USERNAME)
    seen = {}
    for name, (path, testid) in PAGES.items():
        visit(page, path)
        if testid:
            expect(page.get_by_test_id(testid).first).to_be_visible()
        seen[name] = problems(page)
    found = [f"{name}: {problem}" for name, found in seen.items() for problem in found]
    assert found == [], "\n".join(found)


def test_the_sign_in_page_and_a_phone_meet_wcag_aa(new_page, demo):
    page = new_page()
    visit(page, "/accounts/login/")
    assert problems(page) == []
    phone = sign_in(new_page(viewport=PHONE), DEMO_USERNAME)
    visit(phone, "/n/demo/")
    assert problems(phone) == []
