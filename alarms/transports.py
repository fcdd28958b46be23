"""Channel kinds: one small class per kind, found by ``Channel.kind`` in ``TRANSPORTS``.

A transport sends one alarm message and either returns or raises ``DeliveryError``:
``permanent=True`` when trying again cannot help (a refused login, a 4xx, a malformed URL),
so the outbox disables the channel and says why; ``permanent=False`` for what time may fix
(a broker or mail server down, a timeout, a 5xx), so the outbox retries with backoff.
Transports import nothing from the models: they get the channel and the message. Their
clients (kombu, apprise) are imported where a channel uses them, so a process that records
runs but delivers nothing (``run_checker`` of a green checker from cron) never loads them.

Webhook and apprise hosts pass the outbound policy (``malleable.outbound``) when a channel is
saved and again at every delivery, since a DNS answer may change; a queue channel may only
name a broker the operator lists. Once a target passed, every way it can fail reads the same
to the tenant (``outbound.unreachable``); the details go to the log, for the operator.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import http.client
import logging
import os
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import SplitResult, unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email

from alarms import payloads
from malleable import outbound

if TYPE_CHECKING:
    from kombu import Connection, Exchange

log = logging.getLogger(__name__)

EXCHANGE_NAME = "malleable.alarms"
PERSISTENT = 2
SIGNATURE_HEADER = "X-Malleable-Signature-256"


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Message(Protocol):
    kind: str
    payload: dict[str, Any]
    routing_key: str
    dedup_key: str


class ChannelLike(Protocol):
    slug: str
    url: str
    secret: str


class Transport:
    kind: ClassVar[str]
    label: ClassVar[str]

    def __init__(self, channel: ChannelLike) -> None:
        self.channel = channel

    def validate(self) -> None:
        """Raise ``ValidationError`` (keyed by field) for a channel that could never deliver."""

    def describe(self) -> str:
        """Where messages go, with no credential in it: safe for any member to read."""
        parts = urlsplit(self.channel.url)
        return f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else "-"

    def notify(self, message: Message) -> None:
        raise NotImplementedError


TRANSPORTS: dict[str, type[Transport]] = {}


def register(cls: type[Transport]) -> type[Transport]:
    TRANSPORTS[cls.kind] = cls
    return cls


def timeout() -> float:
    return settings.ALARM_TIMEOUT_S


def channel_policy() -> outbound.OutboundPolicy:
    """Channels may reach any host but this machine, link-local ones and Malleable's own
    services, unless the operator lists them."""
    return outbound.OutboundPolicy(
        allowed=tuple(settings.CHANNEL_ALLOWED_HOSTS),
        own_services=outbound.own_services(settings),
        refuse_private=settings.REFUSE_PRIVATE_ADDRESSES,
        setting="MALLEABLE_CHANNEL_ALLOWED_HOSTS",
        what="channel host",
    )


def refusal_at_save(host: str) -> None:
    """``ValidationError`` on the URL when the policy refuses ``host``. A name that does not
    resolve yet is let through: it is vetted again at every delivery."""
    try:
        channel_policy().vet(host)
    except outbound.OutboundRefused as exc:
        raise ValidationError({"url": sentence(str(exc))}) from None
    except outbound.Unresolvable:
        pass


def sentence(text: str) -> str:
    """A refusal as a form shows it: a capital and a full stop."""
    return f"{text[:1].upper()}{text[1:]}."


def vetted_at_send(host: str, where: str) -> tuple[outbound.IPAddress, ...]:
    """The addresses to deliver to; a refusal disables the channel and says why."""
    try:
        return channel_policy().vet(host)
    except outbound.OutboundRefused as exc:
        raise DeliveryError(str(exc), permanent=True) from None
    except outbound.Unresolvable as exc:
        log.warning("%s: %s", where, exc)
        raise DeliveryError(outbound.unreachable(where, timeout())) from None


@functools.cache
def exchange() -> Exchange:
    """The topic exchange for alarm messages (docs/contracts.md, "Alarm message")."""
    from kombu import Exchange

    return Exchange(EXCHANGE_NAME, type="topic", durable=True)


@register
class QueueTransport(Transport):
    """The alarm message contract (docs/contracts.md): durable topic exchange, persistent JSON, confirms."""

    kind = "queue"
    label = "Message queue (topic exchange malleable.alarms)"

    def broker_url(self) -> str:
        return self.channel.url or default_broker()

    def validate(self) -> None:
        from kombu import Connection

        try:
            Connection(self.broker_url()).transport_cls  # noqa: B018  (resolves the scheme)
        except (KeyError, ValueError, ImportError) as exc:
            raise ValidationError({"url": f"Not a broker URL kombu knows ({exc})."}) from None
        if not self.listed():
            raise ValidationError({"url": sentence(self.refusal())})

    def listed(self) -> bool:
        """The installation's broker, or one the operator lists: a tenant's URL could otherwise
        write into any broker, Redis or RabbitMQ the workers can reach."""
        if not self.channel.url:
            return True
        brokers = [default_broker(), *settings.ALARM_BROKERS]
        return any(broker_matches(self.channel.url, broker) for broker in brokers)

    def refusal(self) -> str:
        return (
            f"the broker {broker_address(self.channel.url)} is not one the operator lists for queue "
            "channels (MALLEABLE_ALARM_BROKERS); leave the URL blank to use the installation's broker"
        )

    def describe(self) -> str:
        from kombu import Connection

        return Connection(self.broker_url()).as_uri(include_password=False)

    def options(self, url: str) -> dict[str, Any]:
        """Fail fast (the outbox retries), wait for the broker's confirm, and on the embedded
        filesystem transport use the project's broker folders."""
        options: dict[str, Any] = {"confirm_publish": True, "max_retries": 0}
        if url.startswith("filesystem://"):
            options |= getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
        return options

    def notify(self, message: Message) -> None:
        import amqp.exceptions
        from kombu import Connection
        from kombu.exceptions import KombuError

        if not self.listed():
            raise DeliveryError(self.refusal(), permanent=True)
        url = self.broker_url()
        try:
            with Connection(url, connect_timeout=timeout(), transport_options=self.options(url)) as conn:
                conn.Producer().publish(
                    payloads.encode(message.payload),
                    exchange=exchange(),
                    routing_key=message.routing_key,
                    declare=self.declare(conn),
                    delivery_mode=PERSISTENT,
                    content_type="application/json",
                    content_encoding="utf-8",
                    message_id=message.dedup_key,
                    retry=False,
                    timeout=timeout(),
                )
        except (amqp.exceptions.AccessRefused, amqp.exceptions.NotAllowed) as exc:
            raise DeliveryError(f"the broker refused us: {exc}", permanent=True) from None
        except (KombuError, amqp.exceptions.AMQPError, OSError) as exc:
            raise DeliveryError(f"broker unreachable: {exc}") from None

    def declare(self, conn: Connection) -> list[Any]:
        """On the embedded transport nobody else binds a queue, so alarms get one to wait in."""
        from kombu import Queue

        alarms = exchange()
        if conn.transport.driver_type == "amqp":
            return [alarms]
        return [alarms, Queue(EXCHANGE_NAME, alarms, routing_key="#", durable=True)]


def default_broker() -> str:
    return settings.ALARM_BROKER_URL or settings.CELERY_BROKER_URL


BROKER_PORTS: dict[str, int | str] = {"amqp": 5672, "amqps": 5671, "redis": 6379, "rediss": 6379}


def broker_key(url: str) -> tuple[str, str, str, str]:
    """Scheme, host, port and virtual host (or Redis database): what a broker is compared by."""
    try:
        parts = urlsplit(url.strip())
        scheme = {"pyamqp": "amqp"}.get(parts.scheme.lower(), parts.scheme.lower())
        port = str(parts.port or BROKER_PORTS.get(scheme, ""))
    except ValueError:
        return ("", "", "", "")
    return scheme, (parts.hostname or "").rstrip("."), port, unquote(parts.path[1:])


def broker_address(url: str) -> str:
    """The broker with no credential, for messages."""
    scheme, host, port, vhost = broker_key(url)
    return f"{scheme}://{host}:{port}/{vhost}" if host else f"{scheme}://"


def describe_broker(url: str) -> str:
    """Which broker a URL names, in words a channel's owner can check: RabbitMQ, Redis or the
    embedded one (a directory on this machine, so only consumers on this machine read it)."""
    scheme, host, port, _ = broker_key(url)
    if scheme in ("amqp", "amqps"):
        return f"RabbitMQ at {host}:{port}"
    if scheme in ("redis", "rediss"):
        return f"Redis at {host}:{port}"
    if scheme == "filesystem":
        return "the embedded broker (a directory on this machine: only consumers here can read it)"
    return broker_address(url)


def broker_matches(url: str, listed: str) -> bool:
    """Same scheme, host and port, and the same virtual host or database when the operator's
    entry names one (an entry without a path allows every one). Credentials do not count."""
    mine, theirs = broker_key(url), broker_key(listed)
    return bool(mine[0]) and mine[:3] == theirs[:3] and (not theirs[3] or mine[3] == theirs[3])


@register
class WebhookTransport(Transport):
    kind = "webhook"
    label = "Webhook (JSON POST, HMAC-SHA256 signed)"
    RETRYABLE_4XX = frozenset({408, 429})

    def validate(self) -> None:
        parts = urlsplit(self.channel.url)
        try:
            parts.port  # noqa: B018  (a port out of range raises)
        except ValueError:
            raise ValidationError({"url": "The port is not a number from 1 to 65535."}) from None
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValidationError({"url": "A webhook needs an http:// or https:// URL."})
        if not self.channel.secret:
            raise ValidationError({"secret": "A webhook signs every message: set a secret."})
        refusal_at_save(parts.hostname)

    @staticmethod
    def sign(secret: str, body: bytes) -> str:
        return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    def notify(self, message: Message) -> None:
        parts = urlsplit(self.channel.url)
        where = f"the webhook at {parts.hostname}"
        addresses = vetted_at_send(parts.hostname or "", where)
        body = payloads.encode(message.payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Malleable-Alarms",
            "X-Malleable-Event": message.kind,
            "X-Malleable-Dedup-Key": message.dedup_key,
            SIGNATURE_HEADER: self.sign(self.channel.secret, body),
        }
        try:
            status = post_pinned(parts, addresses, body, headers, timeout())
        except (OSError, http.client.HTTPException, ValueError) as exc:
            log.warning("channel %s: %s failed: %r", self.channel.slug, where, exc)
            raise DeliveryError(outbound.unreachable(where, timeout())) from None
        if not 200 <= status < 300:
            log.warning("channel %s: %s answered HTTP %s", self.channel.slug, where, status)
            raise self.http_error(status, where)

    def http_error(self, status: int, where: str) -> DeliveryError:
        """The same words as a closed port; a 3xx or 4xx still disables the channel (docs/outbound.md)."""
        permanent = 300 <= status < 500 and status not in self.RETRYABLE_4XX
        return DeliveryError(outbound.unreachable(where, timeout()), permanent=permanent)


def post_pinned(
    parts: SplitResult,
    addresses: tuple[outbound.IPAddress, ...],
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
) -> int:
    """POST to the vetted addresses only, keeping the name for the Host header, TLS SNI and
    certificate checks; the status of the answer. Redirects are not followed (a redirected
    POST would arrive as a GET without its body). The whole exchange ends at ``timeout_s``,
    however slowly the other end answers."""
    deadline = time.monotonic() + timeout_s
    connection_class = PinnedHTTPSConnection if parts.scheme == "https" else PinnedHTTPConnection
    port = parts.port or connection_class.default_port
    connection = connection_class(parts.hostname or "", port, addresses=addresses, deadline=deadline)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.connect()
        with cut_at(connection.sock, deadline):
            connection.request("POST", target, body=body, headers=dict(headers))
            response = connection.getresponse()
            response.read(65536)
            return response.status
    finally:
        connection.close()


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to addresses vetted beforehand, never to a fresh DNS answer."""

    def __init__(
        self, host: str, port: int | None, *, addresses: tuple[outbound.IPAddress, ...], deadline: float
    ) -> None:
        super().__init__(host, port, timeout=max(0.001, deadline - time.monotonic()))
        self.addresses, self.deadline = addresses, deadline

    def connect(self) -> None:
        error: OSError = ConnectionError("no address to connect to")
        for address in self.addresses:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the delivery's time is up")
            try:
                self.sock = socket.create_connection((str(address), self.port), timeout=remaining)
            except OSError as exc:
                error = exc
                continue
            self.sock.settimeout(max(0.001, self.deadline - time.monotonic()))
            return
        raise error


class PinnedHTTPSConnection(PinnedHTTPConnection):
    default_port = http.client.HTTPS_PORT

    def connect(self) -> None:
        super().connect()
        context = ssl.create_default_context()
        with cut_at(self.sock, self.deadline):
            self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


@contextlib.contextmanager
def cut_at(sock: socket.socket | None, deadline: float) -> Iterator[None]:
    """Shut the connection down at ``deadline``: socket timeouts bound each read, not a
    peer that answers one byte at a time."""
    if sock is None:
        yield
        return
    watch = socket.socket(fileno=os.dup(sock.fileno()))
    timer = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, args=(watch,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        watch.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


@register
class EmailTransport(Transport):
    kind = "email"
    label = "E-mail"
    PERMANENT = (smtplib.SMTPRecipientsRefused, smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused)

    def recipients(self) -> list[str]:
        addresses = self.channel.url.removeprefix("mailto:")
        return [address.strip() for address in addresses.split(",") if address.strip()]

    def validate(self) -> None:
        recipients = self.recipients()
        if not recipients:
            raise ValidationError({"url": "Give at least one e-mail address."})
        for address in recipients:
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError({"url": f"{address!r} is not an e-mail address."}) from None

    def describe(self) -> str:
        return ", ".join(self.recipients())

    def notify(self, message: Message) -> None:
        title, body = payloads.render_text(message.payload)
        email = EmailMessage(
            subject=title,
            body=body,
            to=self.recipients(),
            headers={"X-Malleable-Dedup-Key": message.dedup_key},
            connection=get_connection(timeout=timeout()),
        )
        try:
            email.send()
        except self.PERMANENT as exc:
            raise DeliveryError(f"the mail server refused: {exc}", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"mail server unreachable: {exc}") from None


@register
class AppriseTransport(Transport):
    """PagerDuty, Teams, Discord, … through apprise URLs: no hand-written clients.

    Apprise opens its own connections and resolves the name again when it does: its host is
    vetted just before it is handed over, but not pinned, so a name whose DNS answer changes
    within that instant could still lead apprise elsewhere. Services whose URL holds only
    tokens (``slack://``, ``pagerduty://``) talk to the service's fixed public host.
    """

    kind = "apprise"
    label = "Apprise URL (PagerDuty, Microsoft Teams, …)"
    schemes: ClassVar[tuple[str, ...]] = ()
    # Services of the machine Malleable runs on, not of the network: never a tenant's to write to.
    LOCAL_SCHEMES = frozenset({"syslog", "dbus", "kde", "qt", "glib", "gnome", "macosx", "windows"})

    def validate(self) -> None:
        url = self.channel.url
        if self.schemes and not url.startswith(self.schemes):
            raise ValidationError(
                {"url": f"A {self.kind} channel takes a URL starting with {self.schemes[0]}"}
            )
        service = self.plugin()
        if service is None:
            raise ValidationError({"url": "apprise does not understand this URL."})
        if self.is_local():
            raise ValidationError({"url": sentence(self.local_refusal())})
        for host in self.hosts(service):
            refusal_at_save(host)

    def plugin(self) -> Any:
        import apprise

        return apprise.Apprise.instantiate(self.channel.url, suppress_exceptions=True) or None

    def is_local(self) -> bool:
        return urlsplit(self.channel.url).scheme.lower() in self.LOCAL_SCHEMES

    def local_refusal(self) -> str:
        scheme = urlsplit(self.channel.url).scheme.lower()
        return f"apprise's {scheme}:// writes to the machine Malleable runs on; use a network service"

    @staticmethod
    def hosts(plugin: Any) -> list[str]:
        """The hosts the URL names, when the service takes one (``json://``, ``ntfy://host``,
        ``mailto://`` and its ``?smtp=``); none for services that only take tokens and talk to
        their own host."""
        takes_host = any("{host}" in template for template in getattr(plugin, "templates", ()))
        named = [getattr(plugin, "host", "") if takes_host else "", getattr(plugin, "smtp_host", "")]
        return [str(host).strip("[]") for host in named if host]

    def describe(self) -> str:
        return urlsplit(self.channel.url).scheme + "://…"

    def notify(self, message: Message) -> None:
        import apprise

        plugin = self.plugin()
        if plugin is None:
            raise DeliveryError("apprise does not understand the channel's URL", permanent=True)
        if self.is_local():
            raise DeliveryError(self.local_refusal(), permanent=True)
        hosts = self.hosts(plugin)
        where = f"the {urlsplit(self.channel.url).scheme}:// service" + (f" at {hosts[0]}" if hosts else "")
        for host in hosts:
            vetted_at_send(host, where)
        service = apprise.Apprise()
        service.add(plugin)
        title, body = payloads.render_text(message.payload)
        result = service.notify(body=body, title=title, timeout=timeout())
        if not result:
            logs = "; ".join(entry.message for entry in result.logs() if entry.level in {"WARNING", "ERROR"})
            log.warning("channel %s: %s: %s", self.channel.slug, where, logs or result.status.name)
            raise DeliveryError(outbound.unreachable(where, timeout()))


@register
class SlackTransport(AppriseTransport):
    kind = "slack"
    label = "Slack (through apprise)"
    schemes = ("slack://", "https://hooks.slack.com/")
