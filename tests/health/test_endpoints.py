"""/healthz, /readyz and /metrics: what a load balancer and Prometheus see, and nobody else's data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from alarms.models import Channel, Notification
from checkers import runs
from health.models import Heartbeat
from tests.alarms.conftest import DEAD_BROKER_URL

TOKEN = "s3cret-metrics-token"


@pytest.fixture(autouse=True)
def _health_settings(settings):
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
    settings.METRICS_TOKEN = TOKEN
    settings.ALARM_BROKERS = [DEAD_BROKER_URL]
    settings.ALARM_QUICK_DELAY_S = 0


def test_healthz_needs_no_database_and_names_nothing(client, django_assert_num_queries, seed):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.services
def test_readyz_is_200_with_a_recent_tick_and_an_empty_outbox(client, db, rabbitmq_service):
    Heartbeat.beat(Heartbeat.Kind.DISPATCHER, "dispatcher")
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "dispatcher", "outbox"}


@pytest.mark.services
def test_readyz_turns_503_when_delivery_is_blocked(client, seed, shop, personas, settings, rabbitmq_service):
    settings.HEALTH_OUTBOX_MAX_AGE_S = 60
    Heartbeat.beat(Heartbeat.Kind.DISPATCHER, "dispatcher")
    Channel.objects.create(namespace=personas.a, slug="ops-queue", kind="queue", url=DEAD_BROKER_URL)
    shop.set_null_emails(50)
    runs.execute(seed[0])  # red: a fired alarm the dead broker cannot take
    assert client.get("/readyz").status_code == 200, "blocked, but not for long yet"
    assert Notification.objects.get().status == "pending"
    Notification.objects.update(created=timezone.now() - timedelta(minutes=5))
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["outbox"] == {"ok": False, "detail": "alarm outbox stuck for 5 min"}
    assert personas.a.slug not in response.content.decode()
    assert "few-null-emails" not in response.content.decode()


@pytest.mark.services
def test_readyz_says_the_scheduler_stopped_and_the_broker_is_down(client, db, settings, rabbitmq_service):
    settings.CELERY_BROKER_URL = DEAD_BROKER_URL
    settings.HEALTH_BROKER_TIMEOUT_S = 0.5
    Heartbeat.beat(Heartbeat.Kind.DISPATCHER, "dispatcher", now=timezone.now() - timedelta(minutes=10))
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False
    assert checks["dispatcher"] == {"ok": False, "detail": "scheduler stopped: no dispatcher tick for 10 min"}
    assert checks["database"]["ok"] is True


def test_metrics_is_404_without_a_token_configured(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_metrics_refuses_without_the_right_token(client, db):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_parse_and_counters_move_with_real_runs(client, seed, shop, personas):
    rule, python = seed
    namespace = personas.a.slug
    red = ("malleable_runs_total", (("checker", rule.slug), ("namespace", namespace), ("status", "red")))
    before = scrape(client)
    assert red not in before
    shop.set_null_emails(50)
    runs.execute(rule)
    runs.execute(rule)
    runs.execute(python)
    after = scrape(client)
    assert after[red] == 2
    py_red = ("malleable_runs_total", (("checker", python.slug), ("namespace", namespace), ("status", "red")))
    assert after[py_red] == 1
    assert after[("malleable_run_duration_seconds_count", (("namespace", namespace),))] == 3
    assert after[("malleable_sandbox_seconds_bucket", (("le", "+Inf"), ("namespace", namespace)))] == 3
    assert after[("malleable_checkers", (("namespace", namespace), ("state", "red")))] == 2
    assert after[("malleable_queue_depth", (("status", "queued"),))] == 0
    assert ("malleable_outbox_backlog", (("status", "pending"),)) in after
    assert ("malleable_dispatcher_lag_seconds", ()) in after
