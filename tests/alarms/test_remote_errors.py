"""A channel's server does not decide what its error says, and its answer never stops a row.

On main a webhook answering ``HTTP/1.1 500`` with a NUL in its reason made PostgreSQL refuse
the delivery attempt's row, and a long reason was stored whole. Now a webhook's failure reads
the same whatever the server answered (docs/outbound.md), and every stored error is cleaned
and cut (``malleable.texts``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from alarms.models import Channel, DeliveryAttempt, Notification

REASON = "boom\x00" + "r" * 20_000


@pytest.fixture
def hostile_hook() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(500, REASON)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/alarms"
    server.shutdown()
    server.server_close()


def test_a_webhooks_nul_and_long_reason_are_stored_cleaned_and_cut(checker, run, personas, hostile_hook):
    Channel.objects.create(namespace=personas.a, slug="hook", kind="webhook", url=hostile_hook, secret="k")

    run(checker, "red")

    notification = Notification.objects.get()
    expected = (
        "the webhook at 127.0.0.1 could not be reached or did not accept the connection "
        "(refused, unreachable, no answer within 3 s, or an error answer)"
    )
    assert notification.last_error == expected
    attempts = DeliveryAttempt.objects.filter(notification=notification)
    assert attempts.exists()
    assert {attempt.error for attempt in attempts} == {expected}
