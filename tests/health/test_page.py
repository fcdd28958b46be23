"""The health page: superusers only; what it shows when the installation is unwell."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alarms.models import Channel
from checkers.models import Checker, CheckRun
from health.models import Heartbeat

URL = "/health/"


@pytest.mark.parametrize("role", ["owner", "editor", "viewer", "outsider"])
def test_only_superusers_see_the_health_page(personas, login, role):
    response = login(personas[role]).get(URL)
    assert response.status_code in {302, 403}
    assert b"Installation health" not in response.content


def test_anonymous_is_sent_to_sign_in(personas, client):
    response = client.get(URL)
    assert response.status_code == 302


def test_the_page_shows_workers_late_checkers_stuck_runs_and_disabled_channels(personas, login, seed):
    rule, _ = seed
    now = timezone.now()
    Heartbeat.beat(Heartbeat.Kind.DISPATCHER, "dispatcher", now=now - timedelta(minutes=30))
    Heartbeat.beat(Heartbeat.Kind.WORKER, "celery@box", {"active": 1, "concurrency": 2, "load_1m": 0.5})
    Checker.objects.filter(pk=rule.pk).update(next_run_at=now - timedelta(hours=1))
    CheckRun.objects.create(
        checker=rule, trigger="manual", status="running", started=now - timedelta(hours=2)
    )
    channel = Channel.objects.create(
        namespace=personas.a, slug="hook", kind="webhook", url="https://x.example", secret="k"
    )
    channel.disable("permanent failure: HTTP 410")
    response = login(personas.superuser).get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "scheduler stopped: no dispatcher tick for 30 min" in page
    assert "celery@box" in page and "1 / 2" in page
    assert f"{personas.a.slug}/{rule.slug}</a>: due" in page
    assert f"{personas.a.slug}/{rule.slug}: running since 2.0 h" in page
    assert f"{personas.a.slug}/hook: permanent failure: HTTP 410" in page
    assert 'data-testid="module-cache"' in page


def test_dashboards_show_a_banner_while_the_scheduler_is_stopped(personas, login, seed):
    dashboard = f"/n/{personas.a.slug}/"
    assert b"health-banner" not in login(personas.viewer).get(dashboard).content
    Heartbeat.beat(Heartbeat.Kind.DISPATCHER, "dispatcher", now=timezone.now() - timedelta(minutes=30))
    page = login(personas.viewer).get(dashboard).content.decode()
    assert "Malleable itself is unwell:</strong> scheduler stopped: no dispatcher tick for 30 min" in page
    assert "/health/" not in page, "the health page is linked for superusers only"
    assert "/health/" in login(personas.superuser).get(dashboard).content.decode()


def test_a_late_checker_is_marked_late_on_the_dashboard_and_its_page(personas, login, seed):
    rule, _ = seed
    Checker.objects.filter(pk=rule.pk).update(next_run_at=timezone.now() - timedelta(minutes=20))
    client = login(personas.viewer)
    for url in (f"/n/{personas.a.slug}/", rule.get_absolute_url()):
        page = client.get(url).content.decode()
        assert 'data-testid="marker-late">late 20 min' in page, url
