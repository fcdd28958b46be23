"""Input that parses but cannot work is refused at save, and stored data never makes a 500.

On main ``0 0 30 2 *`` (the 30th of February) was saved and every page of the checker then
answered 500; 50,000-deep ``params`` answered 500 in the editor and the admin.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from alarms.models import MaintenanceWindow
from checkers import schedules
from checkers.models import Checker
from checkers.tasks import dispatch_due_checkers
from checks_as_code import config
from tests.checkers.config_support import ENVIRON, write
from tests.pages.test_editor import rule_form

NEVER = "0 0 30 2 *"
NEVER_FIRES = (
    "'0 0 30 2 *' never fires: no date has that day of the month in that month (February has no 30th); "
    "pick a day every chosen month has"
)
DEEP = "[" * 50_000 + "]" * 50_000
TOO_DEEP = "params nest more than 32 levels deep: flatten them."
DEEP_TOO_LARGE = "params take 100,000 bytes as JSON, more than 65,536: keep them small."
NO_RULES = {"rules-TOTAL_FORMS": "0", "rules-INITIAL_FORMS": "0"}


@pytest.fixture
def dataset(seed):
    return seed[0].rules.get().dataset


def admin_form(checker: Checker, **extra) -> dict:
    return {
        "namespace": checker.namespace_id,
        "slug": checker.slug,
        "name": checker.name,
        "kind": checker.kind,
        "severity": checker.severity,
        "source": checker.source,
        "datasets": [d.pk for d in checker.datasets.all()],
        "schedule_cron": checker.schedule_cron,
        "schedule_every": checker.schedule_every or "",
        "params": "{}",
        "enabled": "on",
        **NO_RULES,
        **extra,
    }


def admin_url(checker: Checker) -> str:
    return reverse("admin:checkers_checker_change", args=[checker.pk])


def test_a_cron_that_never_fires_is_refused_by_the_schedule_itself():
    with pytest.raises(ValueError, match=r"never fires") as refused:
        schedules.parse(NEVER)
    assert str(refused.value) == NEVER_FIRES
    assert schedules.parse("0 0 29 2 *") == schedules.Schedule(cron="0 0 29 2 *")  # every leap year


def test_the_editor_refuses_a_cron_that_never_fires(personas, login, dataset):
    response = login(personas.editor).post("/n/alpha/checkers/new/", rule_form(dataset, schedule_cron=NEVER))

    assert response.status_code == 200
    assert response.context["form"].errors["schedule_cron"] == [NEVER_FIRES]
    assert not Checker.objects.filter(slug="few-null").exists()


def test_the_admin_refuses_a_cron_that_never_fires(personas, login, seed):
    checker = seed[1]

    form = admin_form(checker, schedule_cron=NEVER, schedule_every="")
    response = login(personas.editor).post(admin_url(checker), form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["schedule_cron"] == [NEVER_FIRES]
    assert (
        Checker.objects.get(pk=checker.pk).schedule_every,
        Checker.objects.get(pk=checker.pk).schedule_cron,
    ) == (
        300,
        "",
    )


@pytest.mark.django_db
def test_checks_as_code_refuses_a_cron_that_never_fires(tmp_path, settings):
    settings.DATASOURCE_SQLITE_DIR = tmp_path
    text = (
        "namespaces:\n  - slug: growth\n    name: Growth\n    checkers:\n"
        "      - slug: never\n        schedule: '0 0 30 2 *'\n        python: ok('x')\n"
    )
    with pytest.raises(config.ConfigInvalid) as refused:
        config.import_file(write(tmp_path, text), environ=ENVIRON)

    assert [(e.line, e.path, e.message) for e in refused.value.errors] == [
        (6, "namespaces[0].checkers[0].schedule", NEVER_FIRES)
    ]
    assert not Checker.objects.exists()


def test_every_page_of_a_checker_with_a_stored_impossible_schedule_answers(personas, login, seed):
    checker = seed[0]
    Checker.objects.filter(pk=checker.pk).update(schedule_cron=NEVER)
    client = login(personas.viewer)

    for url in (
        f"/n/alpha/checkers/{checker.slug}/",
        f"/n/alpha/checkers/{checker.slug}/edit/",
        "/n/alpha/",
        f"/n/alpha/checkers/schedule-preview/?schedule_cron={NEVER}",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/n/alpha/checkers/{checker.slug}/").content.decode()
    assert "never fires: no date has that day of the month in that month (February has no 30th)" in page


def test_a_stored_impossible_schedule_unschedules_the_checker_instead_of_failing_dispatch(seed):
    checker = seed[0]
    Checker.objects.filter(pk=checker.pk).update(schedule_cron=NEVER, next_run_at=timezone.now())
    checker.refresh_from_db()

    assert checker.compute_next_run() is None
    assert dispatch_due_checkers() == 1
    checker.refresh_from_db()
    assert checker.next_run_at is None
    assert dispatch_due_checkers() == 0


def test_a_maintenance_window_that_never_opens_is_refused_and_a_stored_one_stays_closed(personas):
    window = MaintenanceWindow(namespace=personas.a, name="Never", cron=NEVER, duration_minutes=60)

    with pytest.raises(ValidationError) as refused:
        window.full_clean()
    assert refused.value.message_dict["cron"] == [
        "'0 0 30 2 *' never fires: no date has that day in that month."
    ]
    assert window.open_until(datetime(2026, 2, 28, tzinfo=UTC)) is None


def test_the_editor_refuses_50000_deep_params(personas, login, dataset):
    response = login(personas.editor).post("/n/alpha/checkers/new/", rule_form(dataset, params=DEEP))

    assert response.status_code == 200
    assert response.context["form"].errors["params"] == [DEEP_TOO_LARGE]


def test_the_admin_refuses_50000_deep_params(personas, login, seed):
    checker = seed[1]

    response = login(personas.editor).post(admin_url(checker), admin_form(checker, params=DEEP))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["params"] == [DEEP_TOO_LARGE]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ('{"a": ' + "[" * 33 + "]" * 33 + "}", TOO_DEEP),
        ("[" * 20_000 + "]" * 20_000, TOO_DEEP),
        (
            '{"a": "' + "x" * 70_000 + '"}',
            "params take 70,009 bytes as JSON, more than 65,536: keep them small.",
        ),
        (
            '{"a": "nul \\u0000"}',
            "params hold a character that cannot be stored (NUL, \\u0000, or a lone surrogate).",
        ),
    ],
    ids=["33 levels", "20,000 levels", "70 KB", "NUL"],
)
def test_the_editor_refuses_params_too_deep_too_large_or_unstorable(personas, login, dataset, params, error):
    response = login(personas.editor).post("/n/alpha/checkers/new/", rule_form(dataset, params=params))

    assert response.status_code == 200
    assert response.context["form"].errors["params"] == [error]


@pytest.mark.django_db
def test_checks_as_code_refuses_deep_params(tmp_path, settings):
    settings.DATASOURCE_SQLITE_DIR = tmp_path
    deep = "[" * 40 + "]" * 40
    text = (
        "namespaces:\n  - slug: growth\n    name: Growth\n    checkers:\n"
        f"      - slug: deep\n        schedule: {{every: 300}}\n        python: ok('x')\n"
        f"        params: {{a: {deep}}}\n"
    )
    with pytest.raises(config.ConfigInvalid) as refused:
        config.import_file(write(tmp_path, text), environ=ENVIRON)

    assert [e.message for e in refused.value.errors] == [TOO_DEEP]


@pytest.mark.django_db
def test_checks_as_code_refuses_yaml_nested_past_what_it_builds(tmp_path, settings):
    settings.DATASOURCE_SQLITE_DIR = tmp_path
    deep = "[" * 900 + "]" * 900
    text = f"namespaces:\n  - slug: growth\n    name: Growth\n    checkers: {deep}\n"

    with pytest.raises(config.ConfigInvalid) as refused:
        config.import_file(write(tmp_path, text), environ=ENVIRON)

    assert [e.message for e in refused.value.errors] == ["values nest more than 64 levels deep here"]
