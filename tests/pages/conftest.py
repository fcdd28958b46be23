"""The pages' fixtures: the seed's checkers over the shop, and a namespace B to try to reach."""

from __future__ import annotations

import pytest

from alarms.models import AlarmState
from checkers import runs
from checkers.models import Checker, Dataset, Datasource


@pytest.fixture
def rule(seed) -> Checker:
    return seed[0]


@pytest.fixture
def python_checker(seed) -> Checker:
    return seed[1]


@pytest.fixture
def red(rule, shop) -> Checker:
    """The seed's rule checker after one recorded red run."""
    shop.set_null_emails(50)
    runs.execute(rule)
    assert AlarmState.objects.get(checker=rule).state == "red"
    return rule


@pytest.fixture
def b_objects(personas, shop):
    """Namespace B's datasource and dataset: what a member of A must never be able to pick."""
    source = Datasource.objects.create(namespace=personas.b, slug="b-shop", engine="sqlite", url=shop.url)
    dataset = Dataset.objects.create(
        namespace=personas.b, slug="b_users", datasource=source, sql="SELECT username FROM users"
    )
    return source, dataset
