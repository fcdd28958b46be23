"""Retention: a namespace's runs older than its retention are deleted, in batches.

Runs carry what a checker said and measured (messages, logs, figures, metrics); alarm
states, their transitions and alarm events point at runs with ``SET_NULL``, so they stay,
and the state history reads the same. Each batch is its own short transaction, so pruning a
year of minutely runs never holds a long lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from checkers.models import CheckRun, Retention
from namespaces.models import Namespace

BATCH = 1000


def prune(now: datetime | None = None, batch: int = BATCH) -> int:
    """Delete every namespace's runs past its retention; how many were deleted."""
    now = now or timezone.now()
    days = dict(Retention.objects.values_list("namespace_id", "days"))
    deleted = 0
    for namespace_id in Namespace.objects.order_by("pk").values_list("pk", flat=True):
        cutoff = now - timedelta(days=days.get(namespace_id, Retention.DEFAULT_DAYS))
        deleted += prune_namespace(namespace_id, cutoff, batch)
    return deleted


def prune_namespace(namespace_id: int, cutoff: datetime, batch: int = BATCH) -> int:
    old = CheckRun.objects.filter(checker__namespace_id=namespace_id, finished__lt=cutoff)
    deleted = 0
    while pks := list(old.order_by("finished").values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            CheckRun.objects.filter(pk__in=pks).delete()
        deleted += len(pks)
    return deleted
