"""One factory per tenant-owned model: it makes a representative object in a namespace.

The permission matrix discovers every admin and page by itself and needs an object of each
model to aim at; a model without a factory here fails the matrix with a message saying so.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from django.conf import settings
from django.db import models
from django.utils import timezone

from alarms.models import (
    AlarmDefaults,
    AlarmEvent,
    AlarmPolicy,
    AlarmState,
    Channel,
    MaintenanceWindow,
    Notification,
    ToggleLog,
    Transition,
)
from checkers.models import Checker, CheckerKind, CheckRun, Dataset, Datasource, Retention, TestRun
from namespaces.models import Membership, Namespace, Role
from runbooks.models import Runbook
from tests.personas import make_user

_serial = itertools.count(1)
FACTORIES: dict[type[models.Model], Callable[[Namespace], models.Model]] = {}


def factory(model: type[models.Model]):
    def register(make: Callable[[Namespace], models.Model]):
        FACTORIES[model] = make
        return make

    return register


def make(model: type[models.Model], namespace: Namespace) -> models.Model:
    try:
        return FACTORIES[model](namespace)
    except KeyError:
        raise AssertionError(f"No factory for {model.__name__}: add one to tests/factories.py") from None


@factory(Namespace)
def _namespace(namespace: Namespace) -> Namespace:
    return namespace


@factory(Membership)
def _membership(namespace: Namespace) -> Membership:
    user = make_user(f"member{next(_serial)}")
    return Membership.objects.create(namespace=namespace, user=user, role=Role.VIEWER)


@factory(Datasource)
def _datasource(namespace: Namespace) -> Datasource:
    return Datasource.objects.create(
        namespace=namespace,
        slug=f"shop{next(_serial)}",
        engine="sqlite",
        url=f"sqlite:///{settings.DATASOURCE_SQLITE_DIR / namespace.slug / 'shop.sqlite3'}",
        password="s3cret-password",
    )


@factory(Dataset)
def _dataset(namespace: Namespace) -> Dataset:
    return Dataset.objects.create(
        namespace=namespace,
        slug=f"users_with_email_null{next(_serial)}",
        datasource=_datasource(namespace),
        sql="SELECT username FROM users WHERE email IS NULL",
    )


@factory(Checker)
def _checker(namespace: Namespace) -> Checker:
    checker = Checker.objects.create(
        namespace=namespace,
        slug=f"few-null-emails{next(_serial)}",
        name="Few users without an e-mail",
        kind=CheckerKind.RULE,
        schedule_cron="*/5 * * * *",
    )
    checker.rules.create(
        dataset=_dataset(namespace),
        op="<",
        value=42,
        message="There should be less than 42 users in that state",
    )
    return checker


@factory(CheckRun)
def _run(namespace: Namespace) -> CheckRun:
    return CheckRun.objects.create(checker=_checker(namespace), trigger="manual", status="green")


@factory(TestRun)
def _test_run(namespace: Namespace) -> TestRun:
    """A finished test run of a saved checker, as the worker leaves it."""
    return TestRun.objects.create(
        namespace=namespace,
        checker=_checker(namespace),
        finished=timezone.now(),
        duration_ms=1.0,
        result={"skipped": "skipped: a made-up test run"},
    )


@factory(Runbook)
def _runbook(namespace: Namespace) -> Runbook:
    return Runbook.objects.create(
        namespace=namespace,
        slug=f"null-emails{next(_serial)}",
        title="Users without an e-mail",
        body="# Who to call\n\nThe **growth** on-call.",
    )


# --- alarms ---


@factory(Channel)
def _channel(namespace: Namespace) -> Channel:
    return Channel.objects.create(
        namespace=namespace,
        slug=f"ops-hook{next(_serial)}",
        kind="webhook",
        url="https://hooks.example.com/malleable?token=s3cret-token",
        secret="s3cret-signing-key",
    )


@factory(Retention)
def _retention(namespace: Namespace) -> Retention:
    return Retention.objects.get_or_create(namespace=namespace)[0]


@factory(AlarmDefaults)
def _alarm_defaults(namespace: Namespace) -> AlarmDefaults:
    return AlarmDefaults.objects.get_or_create(namespace=namespace)[0]


@factory(AlarmPolicy)
def _alarm_policy(namespace: Namespace) -> AlarmPolicy:
    return AlarmPolicy.objects.create(checker=_checker(namespace), after_failures=2)


@factory(AlarmState)
def _alarm_state(namespace: Namespace) -> AlarmState:
    return AlarmState.objects.get(checker=_checker(namespace))


@factory(Transition)
def _transition(namespace: Namespace) -> Transition:
    run = CheckRun.objects.create(checker=_checker(namespace), trigger="manual", status="red")
    return Transition.objects.create(checker=run.checker, old="green", new="red", run=run)


@factory(AlarmEvent)
def _alarm_event(namespace: Namespace) -> AlarmEvent:
    transition = _transition(namespace)
    return AlarmEvent.write(transition.checker, "fired", transition, transition.run, transition.created)


@factory(Notification)
def _notification(namespace: Namespace) -> Notification:
    return Notification.objects.create(event=_alarm_event(namespace), channel=_channel(namespace))


@factory(MaintenanceWindow)
def _maintenance_window(namespace: Namespace) -> MaintenanceWindow:
    return MaintenanceWindow.objects.create(
        namespace=namespace, name=f"Sunday upgrades {next(_serial)}", cron="0 2 * * 0", duration_minutes=60
    )


@factory(ToggleLog)
def _toggle_log(namespace: Namespace) -> ToggleLog:
    state = _alarm_state(namespace)
    return ToggleLog.record(namespace, ToggleLog.Action.MUTED, None, "deploying", checker=state.checker)
