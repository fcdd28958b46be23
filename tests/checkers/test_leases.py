"""A datasource's concurrency cap holds across workers: leases are rows, claimed under a lock."""

from datetime import timedelta

import pytest
from django.utils import timezone

from checkers.models import DatasourceBusy, DatasourceLease


@pytest.fixture
def datasource(seed):
    source = seed[0].rules.get().dataset.datasource
    source.max_concurrency = 2
    source.save()
    return source


def test_no_more_leases_than_the_cap(datasource):
    first = DatasourceLease.try_acquire(datasource)
    second = DatasourceLease.try_acquire(datasource)
    assert first and second
    assert DatasourceLease.try_acquire(datasource) is None
    second.delete()
    assert DatasourceLease.try_acquire(datasource) is not None


def test_an_expired_lease_frees_its_slot(datasource):
    DatasourceLease.objects.create(datasource=datasource, expires=timezone.now() - timedelta(seconds=1))
    DatasourceLease.objects.create(datasource=datasource, expires=timezone.now() - timedelta(seconds=1))
    with DatasourceLease.hold(datasource):
        assert DatasourceLease.objects.filter(datasource=datasource).count() == 3
    assert not DatasourceLease.objects.filter(datasource=datasource).exists()


def test_a_busy_datasource_is_a_transient_dataset_error(datasource, monkeypatch):
    monkeypatch.setattr(DatasourceLease, "WAIT_S", 0.2)
    held = [DatasourceLease.try_acquire(datasource) for _ in range(2)]
    with pytest.raises(DatasourceBusy, match="is busy") as busy:
        datasource.fetch("SELECT 1")
    assert busy.value.permanent is False
    assert all(held)


def test_a_fetch_gives_its_lease_back(datasource, shop):
    shop.set_null_emails(3)
    assert len(datasource.fetch("SELECT username FROM users WHERE email IS NULL").rows) == 3
    assert not DatasourceLease.objects.exists()
