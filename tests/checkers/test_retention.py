"""Retention: runs past their namespace's retention are pruned in batches; states and their
transitions stay, and so does everything newer."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.utils import timezone

from alarms.models import AlarmState, Transition
from checkers import retention, runs
from checkers.models import CheckRun, Retention
from checkers.tasks import prune_history
from checks_as_code import config

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


RETENTION_YAML = """\
namespaces:
  - slug: growth
    retention_days: 30
    datasources:
      - {slug: shop, engine: sqlite, url: "sqlite:///{dir}/growth/shop.sqlite3"}
    datasets:
      - {slug: users, datasource: shop, sql: SELECT id FROM users}
    checkers:
      - slug: steady-users
        schedule: "0 9 * * *"
        rules:
          - {dataset: users, op: ">", value: 0}
"""
PLAIN_RULE = '{dataset: users, op: ">", value: 0}'
LONG_BAND = "{dataset: users, compare: band, history_days: 60}"


def test_checks_as_code_reads_and_writes_the_retention(people, sqlite_dir):
    config.import_text(RETENTION_YAML.replace("{dir}", str(sqlite_dir)))

    assert Retention.objects.get(namespace__slug="growth").days == 30
    assert yaml.safe_load(config.export_yaml())["namespaces"][0]["retention_days"] == 30
    assert not config.import_text(config.export_yaml()).changed


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("retention_days: 30", "retention_days: 0"), "greater than or equal to 1"),
        (("retention_days: 30", "retention_days: 4000"), "less than or equal to 3650"),
        # The rule and the retention arrive in one file: the floor is checked once the rule is in.
        ((PLAIN_RULE, LONG_BAND), "A rule of steady-users reads the last 60 days of history"),
    ],
)
def test_checks_as_code_refuses_a_retention_out_of_bounds(people, sqlite_dir, change, error):
    with pytest.raises(config.ConfigInvalid) as raised:
        config.import_text(RETENTION_YAML.replace("{dir}", str(sqlite_dir)).replace(*change))
    found = [str(err) for err in raised.value.errors]
    assert any(error in text and "retention_days" in text for text in found), found
    assert not Retention.objects.filter(namespace__slug="growth").exists()


def test_a_rule_cannot_read_further_back_than_its_namespace_keeps_runs(seed):
    rule = seed[0].rules.get()
    rule.compare, rule.history_days = "band", 120
    with pytest.raises(ValidationError) as refused:
        rule.full_clean()
    assert refused.value.message_dict["history_days"] == [
        "This namespace keeps its runs 90 days, so no rule can read further back: "
        "an owner can keep them longer under Settings, Retention."
    ]

    Retention.objects.create(namespace=seed[0].namespace, days=120)
    rule.full_clean()


def test_checks_as_code_refuses_a_rule_reading_past_the_retention(people, sqlite_dir):
    text = RETENTION_YAML.replace("{dir}", str(sqlite_dir)).replace(
        PLAIN_RULE, LONG_BAND.replace("60", "120")
    )
    # Whether the file says its retention or leaves the default of 90 days.
    for said in ("retention_days: 100", ""):
        with pytest.raises(config.ConfigInvalid) as raised:
            config.import_text(text.replace("retention_days: 30", said))
        assert [(err.path, err.message) for err in raised.value.errors] == [
            (
                "namespaces[0].retention_days",
                "A rule of steady-users reads the last 120 days of history: keep runs at least that long.",
            )
        ]
    config.import_text(text.replace("retention_days: 30", "retention_days: 120"))
    assert Retention.objects.get(namespace__slug="growth").days == 120
