"""A stand-in worker for ``test_worker_killed``: ``python -m tests.alarms.worker COMMAND ARGS``.

It runs in its own process over a scratch database (``DATABASE_URL``), so the test can
SIGKILL it for real in the middle of a delivery. Each command prints one JSON object.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any


def setup(namespace: str, broker_url: str, shop_dir: str) -> dict[str, Any]:
    """A namespace with a queue channel and the seed's checker, which goes red once."""
    from alarms.models import Channel, Notification
    from checkers import runs
    from checkers.models import Checker, Dataset, Datasource
    from namespaces.models import Namespace
    from tests.shop import SEED_MESSAGE, Shop

    shop = Shop(Path(shop_dir) / namespace / "shop.sqlite3")  # the namespace's own directory
    shop.set_null_emails(50)
    ns = Namespace.objects.create(slug=namespace, name=namespace)
    Channel.objects.create(namespace=ns, slug="ops-queue", kind="queue", url=broker_url)
    source = Datasource.objects.create(namespace=ns, slug="shop", engine="sqlite", url=shop.url)
    dataset = Dataset.objects.create(
        namespace=ns,
        slug="users_with_email_null",
        datasource=source,
        sql="SELECT username FROM users WHERE email IS NULL",
    )
    checker = Checker.objects.create(
        namespace=ns,
        slug="few-null-emails",
        name="Few null e-mails",
        schedule_every=300,
    )
    checker.rules.create(dataset=dataset, metric="row_count", op="<", value=42, message=SEED_MESSAGE)
    run = runs.execute(checker)
    notification = Notification.objects.get(event__run=run)
    return {"run": run.status, "notification": notification.pk, "dedup_key": notification.event.dedup_key}


def deliver_and_die(notification_id: str, moment: str) -> dict[str, Any]:
    """Claim and deliver as the delivery task does, but die by SIGKILL ``before`` or ``after`` publishing."""
    from alarms import transports
    from alarms.models import Notification

    publish = transports.QueueTransport.notify

    def notify_and_die(self, message) -> None:
        if moment == "after":
            publish(self, message)
        os.kill(os.getpid(), signal.SIGKILL)

    transports.QueueTransport.notify = notify_and_die
    Notification.objects.get(pk=int(notification_id)).deliver(tries=3)
    return {"survived": True}


def sweep(later_s: str = "0") -> dict[str, Any]:
    """A sweep as it would run ``later_s`` seconds from now: claims expire without a sleep."""
    from django.utils import timezone

    from alarms.models import Notification

    return {"delivered": Notification.sweep(now=timezone.now() + timedelta(seconds=float(later_s)))}


def inspect(notification_id: str) -> dict[str, Any]:
    from alarms.models import Notification

    notification = Notification.objects.get(pk=int(notification_id))
    attempts = notification.delivery_attempts.order_by("pk")
    return {
        "status": notification.status,
        "attempts": notification.attempts,
        "rows": [{"ok": a.ok, "finished": a.finished is not None} for a in attempts],
    }


COMMANDS = {"setup": setup, "deliver-and-die": deliver_and_die, "sweep": sweep, "inspect": inspect}


def main(argv: list[str]) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "malleable.settings")
    django.setup()
    command, *args = argv
    print(json.dumps(COMMANDS[command](*args)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
