"""Retention: runs past their namespace's retention are pruned in batches; states and their
transitions stay, and so does everything newer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alarms.models import AlarmState, Transition
from checkers import retention, runs
from checkers.models import CheckRun, Retention
from checkers.tasks import prune_history

pytestmark = pytest.mark.django_db


def age(run: CheckRun, days: int) -> None:
    at = timezone.now() - timedelta(days=days)
    CheckRun.objects.filter(pk=run.pk).update(queued=at, started=at, finished=at)


def test_pruning_deletes_old_runs_in_batches_and_keeps_the_state_history(seed, shop, personas):
    rule, _ = seed
    recorded = []
    for nulls in (50, 10, 50, 10, 50):  # red, green, red, green, red: four transitions
        shop.set_null_emails(nulls)
        recorded.append(runs.execute(rule))
    for run, days in zip(recorded, (200, 120, 95, 30, 1), strict=True):
        age(run, days)
    transitions = list(Transition.objects.filter(checker=rule).values_list("old", "new", "created"))
    assert len(transitions) == 5  # unknown → red first

    assert retention.prune(batch=2) == 3

    assert list(CheckRun.objects.order_by("finished").values_list("pk", flat=True)) == [
        recorded[3].pk,
        recorded[4].pk,
    ]
    assert list(Transition.objects.filter(checker=rule).values_list("old", "new", "created")) == transitions
    assert AlarmState.objects.get(checker=rule).state == "red"


def test_each_namespace_keeps_its_own_retention(seed, shop, personas):
    rule, _ = seed
    shop.set_null_emails(10)
    run = runs.execute(rule)
    age(run, 40)
    Retention.objects.create(namespace=personas.a, days=60)
    assert prune_history() == 0
    Retention.objects.filter(namespace=personas.a).update(days=30)
    assert prune_history() == 1
    assert not CheckRun.objects.exists()
