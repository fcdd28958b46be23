"""Alarms on real parts: the seed's checker over a SQLite shop, RabbitMQ consumed over a
separate connection, a webhook receiver on 127.0.0.1, Django's locmem outbox for e-mail."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kombu import Connection, Queue

from alarms import tasks
from alarms.models import AlarmState, Channel
from alarms.models import outbox as alarm_outbox
from alarms.transports import exchange
from checkers import runs
from checkers.models import Checker, CheckRun

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
DEAD_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"


@pytest.fixture(autouse=True)
def _alarm_settings(settings, monkeypatch):
    """Quick retries without sleeping; delivery tasks run inline when a test commits. The
    receivers run on this machine, so the operator's lists name it, as an operator would."""
    settings.CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.ALARM_BROKERS = [RABBITMQ_URL, DEAD_BROKER_URL]
    settings.ALARM_QUICK_DELAY_S = 0
    settings.ALARM_TIMEOUT_S = 3
    settings.SITE_URL = "https://malleable.example.com"
    monkeypatch.setattr(alarm_outbox, "queue_delivery", tasks.deliver_notification)


@pytest.fixture
def checker(seed) -> Checker:
    return seed[0]


class Runner:
    """Drive the seed's rule checker through the real run pipeline into red, green or error."""

    def __init__(self, shop, capture) -> None:
        self.shop, self.capture = shop, capture

    def __call__(self, checker: Checker, status: str) -> CheckRun:
        self.shop.set_null_emails(50 if status == "red" else 10)
        dataset = checker.rules.get().dataset
        dataset.sql = (
            "SELECT username FROM no_such_table"
            if status == "error"
            else "SELECT username FROM users WHERE email IS NULL"
        )
        dataset.save(update_fields=["sql"])
        with self.capture(execute=True):
            run = runs.execute(checker)
        assert run.status == status, run.error_detail
        return run


@pytest.fixture
def run(shop, django_capture_on_commit_callbacks) -> Runner:
    return Runner(shop, django_capture_on_commit_callbacks)


@pytest.fixture
def announce(django_capture_on_commit_callbacks):
    """The periodic repeat task as of ``now``, delivering what it writes as a worker would."""

    def announce_at(now) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return AlarmState.announce_all(now)

    return announce_at


@dataclass
class Received:
    routing_key: str
    body: dict[str, Any]
    properties: dict[str, Any]
    raw: bytes


class Consumer:
    """A temporary queue bound to the alarm exchange, read over its own connection."""

    def __init__(self, pattern: str) -> None:
        self.connection = Connection(RABBITMQ_URL)
        self.queue = Queue(
            f"test-alarms-{uuid.uuid4().hex}",
            exchange(),
            routing_key=pattern,
            exclusive=True,
            auto_delete=True,
        )
        self.bound = self.queue(self.connection.default_channel)
        self.bound.declare()

    def drain(self, expect: int | None = None, wait_s: float = 3.0) -> list[Received]:
        """Everything that arrives within ``wait_s`` (or as soon as ``expect`` messages did)."""
        received: list[Received] = []
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and (expect is None or len(received) < expect):
            message = self.bound.get(no_ack=True)
            if message is None:
                time.sleep(0.05)
                continue
            received.append(
                Received(
                    message.delivery_info["routing_key"],
                    json.loads(message.body),
                    dict(message.properties),
                    message.body,
                )
            )
        return received

    def close(self) -> None:
        self.connection.release()


@pytest.fixture
def rabbit(rabbitmq_service, personas, shop, settings) -> Iterator[Consumer]:
    """A consumer of namespace A's alarms; A gets a unique slug, so parallel runs never cross,
    and its SQLite directory (where the shop is) follows it."""
    sqlite_dir = settings.DATASOURCE_SQLITE_DIR
    old_slug, personas.a.slug = personas.a.slug, f"alpha-{uuid.uuid4().hex[:8]}"
    personas.a.save(update_fields=["slug"])
    (sqlite_dir / personas.a.slug).symlink_to(sqlite_dir / old_slug)
    consumer = Consumer(f"{personas.a.slug}.#")
    yield consumer
    consumer.close()


@pytest.fixture
def queue_channel(personas) -> Channel:
    return Channel.objects.create(namespace=personas.a, slug="ops-queue", kind="queue", url=RABBITMQ_URL)


@dataclass
class Hook:
    """What the local webhook receiver got, and what it answers next."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[Hook]:
    hook = Hook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(hook.answers.pop(0) if hook.answers else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_port}/alarms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()
