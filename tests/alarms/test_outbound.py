"""Attacks on the outbound policy through channels (issue 11, finding 4): a tenant's webhook,
apprise or queue URL must not reach this machine, cloud metadata or Malleable's own services,
at save and at every send, and a send's failure must not tell what the port did."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.exceptions import ValidationError

from alarms.models import Channel

SECRET = "a-signing-key-nobody-else-has"
LOOPBACK = (
    "; Malleable does not connect there unless the operator lists it in MALLEABLE_CHANNEL_ALLOWED_HOSTS"
)
LOOPBACK_REFUSED = f"the channel host '127.0.0.1' is a loopback address (this machine){LOOPBACK}"


@pytest.fixture(autouse=True)
def _nothing_listed(settings):
    """The defaults an operator gets: no channel host listed, no extra broker."""
    settings.CHANNEL_ALLOWED_HOSTS = []
    settings.ALARM_BROKERS = []
    settings.ALARM_TIMEOUT_S = 1


def _webhook(personas, url: str) -> Channel:
    return Channel(namespace=personas.a, slug="hook", kind="webhook", url=url, secret=SECRET)


def _refusal(channel: Channel) -> str:
    with pytest.raises(ValidationError) as raised:
        channel.full_clean()
    return raised.value.message_dict["url"][0]


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("127.0.0.1", "'127.0.0.1' is a loopback address (this machine)"),
        ("[::1]", "'::1' is a loopback address (this machine)"),
        (
            "169.254.169.254",
            "'169.254.169.254' is a link-local address (where cloud metadata services answer)",
        ),
        ("localhost", "'localhost' resolves to 127.0.0.1, which is a loopback address (this machine)"),
    ],
)
def test_a_webhook_at_this_machine_or_cloud_metadata_is_refused_at_save(personas, host, why):
    assert _refusal(_webhook(personas, f"http://{host}:8080/latest/meta-data/")) == (
        f"The channel host {why}{LOOPBACK}."
    )


def test_a_webhook_at_malleables_database_or_broker_host_is_refused(personas, settings, monkeypatch):
    """Their hosts are public-looking addresses here, so only the own-service rule can refuse them."""
    monkeypatch.setitem(settings.DATABASES["default"], "HOST", "192.0.2.5")
    settings.CELERY_BROKER_URL = "amqp://guest:guest@192.0.2.6:5672//"
    settings.ALARM_BROKERS = ["redis://192.0.2.7:6379/0"]
    for host, service in [("192.0.2.5", "database"), ("192.0.2.6", "broker"), ("192.0.2.7", "broker")]:
        assert _refusal(_webhook(personas, f"https://{host}/hook")) == (
            f"The channel host '{host}' is the address of Malleable's own {service}; Malleable does not "
            "connect there unless the operator lists it in MALLEABLE_CHANNEL_ALLOWED_HOSTS."
        )


def test_a_listed_host_is_accepted(personas, settings, webhook):
    settings.CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]
    _webhook(personas, webhook.url).full_clean()


def test_a_webhook_saved_around_the_check_is_refused_at_send_and_nothing_is_posted(personas, webhook):
    """Saved without validation (as an old row, or a name whose DNS answer changed since)."""
    channel = Channel.objects.create(
        namespace=personas.a, slug="hook", kind="webhook", url=webhook.url, secret=SECRET
    )
    notification = channel.send_test(personas.owner)
    assert notification.status == "held"
    assert notification.last_error == LOOPBACK_REFUSED
    assert webhook.requests == []
    channel.refresh_from_db()
    assert not channel.enabled


class FakeDNS:
    """The answers of a name the test owns: DNS is the outside world here, so it is mocked at
    the resolver, and every other name still resolves for real."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.name, self.answers, self.asked = name, ["192.0.2.10"], 0
        self.real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)

    def getaddrinfo(self, host: Any, *args: Any, **kwargs: Any) -> list:
        if host != self.name:
            return self.real(host, *args, **kwargs)
        self.asked += 1
        address = self.answers[min(self.asked, len(self.answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 0))]


def test_a_name_that_rebinds_to_loopback_after_the_save_is_refused_at_send(personas, webhook, monkeypatch):
    dns = FakeDNS(monkeypatch, "hooks.rebind.test")
    channel = _webhook(personas, webhook.url.replace("127.0.0.1", "hooks.rebind.test"))
    channel.full_clean()
    channel.save()
    dns.answers = ["127.0.0.1"]
    notification = channel.send_test(personas.owner)
    assert notification.last_error == (
        "the channel host 'hooks.rebind.test' resolves to 127.0.0.1, which is a loopback address "
        f"(this machine){LOOPBACK}"
    )
    assert webhook.requests == []


def test_the_webhook_connects_to_the_address_it_vetted_and_keeps_the_name(
    personas, webhook, settings, monkeypatch
):
    """One DNS answer per send, and that one is used: a second answer (here an unreachable
    address) is never asked for. The Host header still names the host."""
    settings.CHANNEL_ALLOWED_HOSTS = ["hooks.pinned.test"]
    dns = FakeDNS(monkeypatch, "hooks.pinned.test")
    dns.answers = ["127.0.0.1", "192.0.2.1"]
    channel = Channel.objects.create(
        namespace=personas.a,
        slug="hook",
        kind="webhook",
        url=webhook.url.replace("127.0.0.1", "hooks.pinned.test"),
        secret=SECRET,
    )
    assert channel.send_test(personas.owner).status == "delivered"
    assert dns.asked == 1
    port = webhook.url.split(":")[2].split("/")[0]
    assert webhook.requests[0]["headers"]["Host"] == f"hooks.pinned.test:{port}"


# --- Every failure reads the same ----------------------------------------------------------


@pytest.fixture
def ports(webhook) -> Iterator[dict[str, str]]:
    """A closed port, a silent one (accepts, never answers), one speaking another protocol,
    and the webhook receiver answering 404 or 500."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen(8)

    def speak_smtp() -> None:
        while True:
            try:
                conn, _ = other.accept()
            except OSError:
                return
            conn.sendall(b"220 mail.internal ESMTP ready\r\n")
            conn.close()

    threading.Thread(target=speak_smtp, daemon=True).start()
    urls = {
        "closed": f"http://127.0.0.1:{closed.getsockname()[1]}/",
        "silent": f"http://127.0.0.1:{silent.getsockname()[1]}/",
        "smtp": f"http://127.0.0.1:{other.getsockname()[1]}/",
        "404": webhook.url,
        "500": webhook.url,
    }
    closed.close()
    webhook.answers = [404, 500]
    yield urls
    silent.close()
    other.close()


def test_every_failure_of_a_vetted_webhook_reads_the_same(personas, settings, ports, webhook):
    settings.CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]
    errors = {}
    for what in ["closed", "silent", "smtp", "404", "500"]:
        channel = Channel.objects.create(
            namespace=personas.a, slug=f"hook-{what}", kind="webhook", url=ports[what], secret=SECRET
        )
        errors[what] = channel.send_test(personas.owner).last_error
    assert set(errors.values()) == {
        "the webhook at 127.0.0.1 could not be reached or did not accept the connection "
        "(refused, unreachable, no answer within 1 s, or an error answer)"
    }


@pytest.fixture
def trickle() -> Iterator[str]:
    """A server that answers one byte every 0.2 s for 10 s."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 50:
                time.sleep(0.2)
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    server.close()


def test_a_slow_answer_is_cut_at_the_timeout(personas, settings, trickle):
    """Socket timeouts bound each read; the whole delivery is bounded too. The bound asserted
    is loose (the server would go on for 10 s), so a loaded machine cannot fail it."""
    settings.CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]
    channel = Channel.objects.create(
        namespace=personas.a, slug="slow", kind="webhook", url=trickle, secret=SECRET
    )
    started = time.monotonic()
    notification = channel.send_test(personas.owner)
    assert time.monotonic() - started < 8
    assert notification.status == "pending"


# --- Apprise ----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "169.254.169.254", "[::1]"])
def test_an_apprise_url_at_this_machine_is_refused_at_save(personas, host):
    channel = Channel(namespace=personas.a, slug="json", kind="apprise", url=f"json://{host}:8080/x")
    assert _refusal(channel).endswith(f"{LOOPBACK}.")


def test_an_apprise_mail_server_named_in_a_parameter_is_vetted_too(personas):
    channel = Channel(
        namespace=personas.a, slug="mail", kind="apprise", url="mailto://user:pw@example.com?smtp=127.0.0.1"
    )
    assert _refusal(channel) == f"{LOOPBACK_REFUSED[:1].upper()}{LOOPBACK_REFUSED[1:]}."


def test_apprise_services_of_this_machine_are_refused(personas):
    channel = Channel(namespace=personas.a, slug="log", kind="apprise", url="syslog://")
    assert (
        _refusal(channel)
        == "Apprise's syslog:// writes to the machine Malleable runs on; use a network service."
    )


def test_an_apprise_url_saved_around_the_check_posts_nothing(personas, webhook):
    channel = Channel.objects.create(
        namespace=personas.a, slug="json", kind="apprise", url=webhook.url.replace("http://", "json://")
    )
    notification = channel.send_test(personas.owner)
    assert notification.status == "held"
    assert notification.last_error == LOOPBACK_REFUSED
    assert webhook.requests == []


def test_a_listed_apprise_host_delivers(personas, settings, webhook):
    settings.CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]
    channel = Channel(
        namespace=personas.a, slug="json", kind="apprise", url=webhook.url.replace("http://", "json://")
    )
    channel.full_clean()
    channel.save()
    assert channel.send_test(personas.owner).status == "delivered"
    assert len(webhook.requests) == 1


def test_an_apprise_service_that_takes_only_tokens_is_not_resolved(personas):
    """``slack://T/B/C`` talks to Slack's own host: its tokens are not a host name."""
    Channel(namespace=personas.a, slug="slack", kind="slack", url="slack://T1/B2/abcdefghij").full_clean()


# --- Queue channels -----------------------------------------------------------------------


REDIS_URL = "redis://127.0.0.1:6379/13"
KEYS = ("_kombu.binding.malleable.alarms", "malleable.alarms")


@pytest.fixture
def internal_redis(redis_service) -> Iterator[redis.Redis]:
    client = redis.Redis(host=redis_service.host, port=redis_service.port, db=13)
    client.delete(*KEYS)
    yield client
    client.delete(*KEYS)
    client.close()


def test_a_queue_channel_naming_an_unlisted_broker_is_refused_at_save(personas):
    channel = Channel(namespace=personas.a, slug="q", kind="queue", url="redis://:hunter2@127.0.0.1:6379/13")
    assert _refusal(channel) == (
        "The broker redis://127.0.0.1:6379/13 is not one the operator lists for queue channels "
        "(MALLEABLE_ALARM_BROKERS); leave the URL blank to use the installation's broker."
    )


def test_a_queue_channel_saved_around_the_check_writes_nothing_into_redis(personas, internal_redis):
    channel = Channel.objects.create(namespace=personas.a, slug="q", kind="queue", url=REDIS_URL)
    notification = channel.send_test(personas.owner)
    assert notification.status == "held"
    assert notification.last_error.startswith(
        "the broker redis://127.0.0.1:6379/13 is not one the operator lists"
    )
    assert internal_redis.exists(*KEYS) == 0


def test_a_listed_broker_is_used(personas, settings, internal_redis):
    settings.ALARM_BROKERS = ["redis://127.0.0.1:6379/13"]
    channel = Channel(namespace=personas.a, slug="q", kind="queue", url=REDIS_URL)
    channel.full_clean()
    channel.save()
    assert channel.send_test(personas.owner).status == "delivered"
    assert internal_redis.exists("malleable.alarms") == 1


@pytest.mark.parametrize(
    ("url", "listed", "ok"),
    [
        ("redis://127.0.0.1:6379/13", "redis://127.0.0.1:6379", True),
        ("redis://:pw@127.0.0.1/13", "redis://127.0.0.1:6379/13", True),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/13", False),
        ("redis://127.0.0.1:6380/13", "redis://127.0.0.1:6379", False),
        ("amqp://u:p@rabbit.internal//", "amqp://rabbit.internal:5672//", True),
        ("pyamqp://rabbit.internal:5672/team", "amqp://rabbit.internal:5672", True),
        ("amqp://rabbit.internal:5672/other", "amqp://rabbit.internal:5672/team", False),
        ("redis://rabbit.internal:5672", "amqp://rabbit.internal:5672", False),
    ],
)
def test_a_broker_matches_by_scheme_host_port_and_virtual_host(url, listed, ok):
    from alarms.transports import broker_matches

    assert broker_matches(url, listed) is ok


def test_the_default_broker_needs_no_listing(personas, settings):
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
    settings.ALARM_BROKER_URL = ""
    Channel(namespace=personas.a, slug="q", kind="queue", url="").full_clean()
    Channel(
        namespace=personas.a, slug="q2", kind="queue", url="amqp://other:pw@127.0.0.1:5672//"
    ).full_clean()


# --- Through the pages ----------------------------------------------------------------------


def test_the_channel_form_refuses_cloud_metadata(personas, login):
    data = {
        "name": "Metadata",
        "slug": "meta",
        "kind": "webhook",
        "url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "secret": SECRET,
        "min_severity": "info",
        "enabled": "on",
    }
    response = login(personas.owner).post("/n/alpha/settings/channels/new/", data)
    assert response.status_code == 200
    assert "is a link-local address (where cloud metadata services answer)" in response.content.decode()
    assert not Channel.objects.filter(slug="meta").exists()


def test_send_test_alarm_to_a_closed_and_a_404_port_reads_the_same_on_the_page(
    personas, login, settings, ports
):
    settings.CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]
    client = login(personas.owner)
    said = []
    for what in ["closed", "404"]:
        Channel.objects.create(
            namespace=personas.a, slug=what, kind="webhook", url=ports[what], secret=SECRET
        )
        response = client.post(f"/n/alpha/settings/channels/{what}/test/", HTTP_HX_REQUEST="true")
        said.append(response.content.decode().replace(what, "SLUG"))
    assert said[0] == said[1]
    assert "could not be reached or did not accept the connection" in said[0]
