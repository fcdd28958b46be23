"""Channel kinds: one small class per kind, found by ``Channel.kind`` in ``TRANSPORTS``.

A transport sends one alarm message and either returns or raises ``DeliveryError``:
``permanent=True`` when trying again cannot help (a refused login, a 4xx, a malformed URL),
so the outbox disables the channel and says why; ``permanent=False`` for what time may fix
(a broker or mail server down, a timeout, a 5xx), so the outbox retries with backoff.
Transports import nothing from the models: they get the channel and the message. Their
clients (kombu, apprise) are imported where a channel uses them, so a process that records
runs but delivers nothing (``run_checker`` of a green checker from cron) never loads them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import http.client
import smtplib
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email

from alarms import payloads

if TYPE_CHECKING:
    from kombu import Connection, Exchange

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


@functools.cache
def exchange() -> Exchange:
    """The topic exchange for alarm messages (docs/contracts.md, "Alarm message")."""
    from kombu import Exchange

    return Exchange(EXCHANGE_NAME, type="topic", durable=True)


@register
class QueueTransport(Transport):
    """The alarm message contract (docs/contracts.md): durable topic exchange, persistent JSON, confirms."""

    kind = "queue"
    label = "Message queue (RabbitMQ topic exchange malleable.alarms)"

    def broker_url(self) -> str:
        return self.channel.url or settings.ALARM_BROKER_URL or settings.CELERY_BROKER_URL

    def validate(self) -> None:
        from kombu import Connection

        try:
            Connection(self.broker_url()).transport_cls  # noqa: B018  (resolves the scheme)
        except (KeyError, ValueError, ImportError) as exc:
            raise ValidationError({"url": f"Not a broker URL kombu knows ({exc})."}) from None

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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would arrive as a GET without its body: report it instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@register
class WebhookTransport(Transport):
    kind = "webhook"
    label = "Webhook (JSON POST, HMAC-SHA256 signed)"
    RETRYABLE_4XX = frozenset({408, 429})

    def validate(self) -> None:
        parts = urlsplit(self.channel.url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValidationError({"url": "A webhook needs an http:// or https:// URL."})
        if not self.channel.secret:
            raise ValidationError({"secret": "A webhook signs every message: set a secret."})

    @staticmethod
    def sign(secret: str, body: bytes) -> str:
        return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    def notify(self, message: Message) -> None:
        body = payloads.encode(message.payload)
        request = urllib.request.Request(  # noqa: S310  (validate() allows http and https only)
            self.channel.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Malleable-Alarms",
                "X-Malleable-Event": message.kind,
                "X-Malleable-Dedup-Key": message.dedup_key,
                SIGNATURE_HEADER: self.sign(self.channel.secret, body),
            },
        )
        try:
            with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout()) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            raise self.http_error(exc.code, exc.reason) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise DeliveryError(f"webhook unreachable: {exc}") from None

    def http_error(self, status: int, reason: str) -> DeliveryError:
        permanent = 300 <= status < 500 and status not in self.RETRYABLE_4XX
        return DeliveryError(f"webhook answered HTTP {status} {reason}", permanent=permanent)


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
    """PagerDuty, Teams, Discord, … through apprise URLs: no hand-written clients."""

    kind = "apprise"
    label = "Apprise URL (PagerDuty, Microsoft Teams, …)"
    schemes: ClassVar[tuple[str, ...]] = ()

    def validate(self) -> None:
        url = self.channel.url
        if self.schemes and not url.startswith(self.schemes):
            raise ValidationError(
                {"url": f"A {self.kind} channel takes a URL starting with {self.schemes[0]}"}
            )
        import apprise

        if not apprise.Apprise().add(url):
            raise ValidationError({"url": "apprise does not understand this URL."})

    def describe(self) -> str:
        return urlsplit(self.channel.url).scheme + "://…"

    def notify(self, message: Message) -> None:
        import apprise

        service = apprise.Apprise()
        if not service.add(self.channel.url):
            raise DeliveryError("apprise does not understand the channel's URL", permanent=True)
        title, body = payloads.render_text(message.payload)
        result = service.notify(body=body, title=title, timeout=timeout())
        if not result:
            logs = "; ".join(entry.message for entry in result.logs() if entry.level in {"WARNING", "ERROR"})
            raise DeliveryError(f"apprise could not deliver: {logs or result.status.name}")


@register
class SlackTransport(AppriseTransport):
    kind = "slack"
    label = "Slack (through apprise)"
    schemes = ("slack://", "https://hooks.slack.com/")
