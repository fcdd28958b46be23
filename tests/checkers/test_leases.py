"""A datasource's concurrency cap holds across workers, whichever database Malleable runs on.

On PostgreSQL the slots are advisory locks, so "another worker" is another session on
Malleable's own database; elsewhere they are rows every worker sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from checkers.models import AdvisorySlots, DatasourceBusy, DatasourceLease


@pytest.fixture
def datasource(seed):
    source = seed[0].rules.get().dataset.datasource
    source.max_concurrency = 2
    source.save()
    return source


@pytest.fixture
def other_worker(datasource) -> Iterator[Callable[[int], Callable[[], None]]]:
    """Take ``n`` slots as another worker would; the call returns how that worker dies."""
    sessions: list[psycopg.Connection] = []

    def take(n: int) -> Callable[[], None]:
        if connection.vendor != "postgresql":
            leases = [DatasourceLease.try_acquire(datasource) for _ in range(n)]
            assert all(leases)
            expired = timezone.now() - timedelta(seconds=1)
            return lambda: DatasourceLease.objects.filter(pk__in=[x.pk for x in leases]).update(
                expires=expired
            )
        params = connection.get_connection_params()
        session = psycopg.connect(
            **{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True
        )
        sessions.append(session)
        for slot in range(n):
            key = datasource.pk * 64 + slot
            assert session.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (AdvisorySlots.LOCK_CLASS, key)
            ).fetchone()[0]
        return session.close

    yield take
    for session in sessions:
        session.close()


def test_a_datasource_with_every_slot_taken_is_busy_then_free_when_that_worker_dies(
    datasource, other_worker, monkeypatch, shop
):
    monkeypatch.setattr(DatasourceLease, "WAIT_S", 0.2)
    dies = other_worker(2)
    with pytest.raises(DatasourceBusy, match="is busy: 2 queries already running") as busy:
        datasource.fetch("SELECT 1")
    assert busy.value.permanent is False
    dies()
    assert datasource.fetch("SELECT 1").values == [(1,)]


def test_one_free_slot_is_enough(datasource, other_worker):
    other_worker(1)
    assert datasource.fetch("SELECT 1").values == [(1,)]


def test_a_fetch_gives_its_slot_back(datasource, other_worker, shop, monkeypatch):
    monkeypatch.setattr(DatasourceLease, "WAIT_S", 0.2)
    shop.set_null_emails(3)
    assert len(datasource.fetch("SELECT username FROM users WHERE email IS NULL").rows) == 3
    assert not DatasourceLease.objects.exists()
    other_worker(1)
    assert datasource.fetch("SELECT 1").values == [(1,)]


def test_rows_cap_the_slots_where_there_are_no_advisory_locks(datasource):
    first = DatasourceLease.try_acquire(datasource)
    second = DatasourceLease.try_acquire(datasource)
    assert first and second
    assert DatasourceLease.try_acquire(datasource) is None
    second.delete()
    assert DatasourceLease.try_acquire(datasource) is not None
