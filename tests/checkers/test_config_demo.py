"""examples/demo.yaml imports, and on the demo shop's data four checkers are green and two red.

``pages.demo.make_demo_shop`` is the data ``load_demo`` writes (see the file's header). The
verdicts come from the run pipeline (``runs.evaluate``, what ``run_checker`` does), recording
nothing.
"""

from __future__ import annotations

import pytest

from alarms.models import AlarmPolicy, Channel, Policy
from checkers import runs
from checkers.models import Checker, CheckerKind
from checkers.sandbox import Status
from checks_as_code import config
from pages.demo import DEMO_CONFIG, make_demo_shop
from runbooks.models import Runbook
from tests.personas import make_user

pytestmark = pytest.mark.django_db

DEMO = DEMO_CONFIG
VERDICTS = {
    "few-null-emails": Status.GREEN,
    "few-null-emails-rule": Status.GREEN,
    "order-count": Status.GREEN,
    "average-order-amount": Status.GREEN,
    "largest-order": Status.RED,
    "no-orphan-orders": Status.RED,
}


@pytest.fixture
def demo(settings, tmp_path):
    settings.DATASOURCE_SQLITE_DIR = tmp_path
    (tmp_path / "demo").mkdir()
    make_demo_shop(tmp_path / "demo" / "shop.sqlite3")
    make_user("demo")
    return config.import_file(DEMO, environ={})


def verdict(checker: Checker) -> tuple[Status, list[str]]:
    outcome = runs.evaluate(checker).outcome
    return outcome.status, [message.text for message in outcome.messages if message.level != "log"]


def test_demo_imports_with_a_checker_of_each_kind(demo):
    assert demo.counts()["checker"] == {"created": 6, "updated": 0, "unchanged": 0}
    kinds = dict(Checker.objects.values_list("slug", "kind"))
    assert kinds["few-null-emails"] == CheckerKind.PYTHON
    assert kinds["no-orphan-orders"] == CheckerKind.WASM
    assert all(
        (checker.schedule_cron, checker.schedule_every) in {("* * * * *", None), ("", 60)}
        for checker in Checker.objects.all()
    )


def test_demo_red_checkers_link_to_their_runbooks(demo):
    links = dict(Checker.objects.exclude(runbook=None).values_list("slug", "runbook__slug"))

    assert links == {"largest-order": "large-orders", "no-orphan-orders": "orphan-orders"}
    assert set(Runbook.objects.values_list("owner__username", flat=True)) == {"demo"}


def test_demo_alarms_go_to_its_queue_channel(demo):
    [channel] = Channel.objects.all()
    assert (channel.slug, channel.kind, channel.url, channel.is_default) == ("ops-queue", "queue", "", True)
    policies = {p.checker.slug: (p.after_failures, p.repeat_every) for p in AlarmPolicy.objects.all()}
    assert policies == {"largest-order": (1, 3600), "no-orphan-orders": (2, 3600)}
    assert Policy.for_checker(Checker.objects.get(slug="few-null-emails")).channels == (channel,)


def test_demo_checkers_are_some_green_some_red(demo):
    verdicts = {checker.slug: verdict(checker) for checker in Checker.objects.all()}

    assert {slug: status for slug, (status, _) in verdicts.items()} == VERDICTS
    assert verdicts["few-null-emails"][1][0].startswith(
        "There should be less than 42 users in that state (10 "
    )
    assert verdicts["largest-order"][1] == ["Largest order amount (1500, expected <= 1000)"]
    assert verdicts["order-count"][1] == [
        "Orders on record (500 is between 100 and 10000)",
        "No order recorded twice (0 == 0)",
    ]
    assert verdicts["no-orphan-orders"][1] == ["Every order belongs to a known user"]
