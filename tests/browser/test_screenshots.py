"""Screenshots of the pages people live in, over the demo namespace with a history behind it.

CI runs this like any browser test (the pages must render, with data, at both widths) and keeps
the pictures in a temporary folder. To refresh the README's pictures:

    MALLEABLE_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/browser/test_screenshots.py
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import Page, expect

from checkers.models import Checker
from health.models import Heartbeat
from tests.browser.conftest import DESKTOP, PHONE, shoot, sign_in
from tests.browser.worlds import DEMO_USERNAME, demo_with_history
from tests.personas import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(settings, tmp_path, monkeypatch):
    """No worker runs here: the demo's alarms stay in the outbox rather than drop tasks in var/broker."""
    monkeypatch.setattr("alarms.models.outbox.queue_delivery", lambda notification_id: None)
    settings.DATASOURCE_SQLITE_DIR = tmp_path
    return demo_with_history(tmp_path)


def test_screenshots_of_dashboard_checker_editor_and_runbook(page: Page, new_page, demo, folder, settings):
    page.set_viewport_size(DESKTOP)
    sign_in(page, DEMO_USERNAME)

    page.goto("/n/demo/")
    expect(page.get_by_test_id("checker-row")).to_have_count(6)
    expect(page.locator("[data-testid=checker-row] svg").first).to_be_visible()
    shoot(page, folder / "dashboard.png")

    page.goto(demo.get_absolute_url())
    expect(page.get_by_test_id("run-row").first).to_be_visible()
    shoot(page, folder / "checker.png")

    page.goto("/n/demo/checkers/few-null-emails/edit/")
    expect(page.get_by_test_id("code-editor")).to_contain_text("assertLessThan")
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the test run finishes in the request: no worker here
    page.get_by_role("button", name="Test run").click()
    expect(page.get_by_test_id("test-result").get_by_test_id("state")).to_be_visible()
    page.get_by_text("How it checks").evaluate("legend => legend.scrollIntoView({block: 'start'})")
    shoot(page, folder / "editor.png")

    page.goto("/n/demo/runbooks/large-orders/")
    expect(page.get_by_test_id("linked-checker")).to_have_count(1)
    shoot(page, folder / "runbook.png")

    phone = new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    sign_in(phone, DEMO_USERNAME)
    phone.goto("/n/demo/runbooks/large-orders/")
    expect(phone.get_by_test_id("linked-checker").get_by_test_id("state")).to_have_text("red")
    shoot(phone, folder / "runbook-phone.png")


def test_screenshot_of_the_health_page_with_the_scheduler_stopped(page: Page, demo, folder):
    """For docs/health.md: beat stopped 12 minutes ago, one worker alive, the demo's checkers late."""
    now = timezone.now()
    get_user_model().objects.create_superuser("operator", "ops@example.com", PASSWORD)
    Heartbeat.beat(Heartbeat.Kind.DISPATCHER, "dispatcher", {"queued": 6}, now=now - timedelta(minutes=12))
    Heartbeat.beat(Heartbeat.Kind.WORKER, "celery@worker-1", {"active": 0, "concurrency": 2, "load_1m": 0.31})
    Checker.objects.filter(namespace__slug="demo").update(next_run_at=now - timedelta(minutes=12))
    page.set_viewport_size(DESKTOP)
    sign_in(page, "operator")

    page.goto("/health/")
    problems = page.get_by_test_id("health-problems")
    expect(problems).to_contain_text("scheduler stopped: no dispatcher tick for 12 min")
    expect(page.get_by_test_id("check-dispatcher")).to_contain_text("scheduler stopped")
    expect(page.get_by_test_id("check-workers")).to_contain_text("1 worker(s)")
    shoot(page, folder / "health.png")
