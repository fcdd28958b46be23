"""Retention on the settings page: owners change it, editors and viewers read it, outsiders 404."""

import pytest

from checkers.models import CheckerRule, Retention

RETENTION = "/n/alpha/settings/retention/"


def test_an_owner_changes_how_long_runs_are_kept(personas, login):
    client = login(personas.owner)
    page = client.get(RETENTION).content.decode()
    assert 'value="90"' in page and 'min="1"' in page and 'max="3650"' in page
    assert "Alarm states, their transitions and the alarm history are kept." in page

    response = client.post(RETENTION, {"days": "30"})

    assert response["Location"] == RETENTION
    assert Retention.objects.get(namespace=personas.a).days == 30


@pytest.mark.parametrize(
    ("days", "error"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("3651", "Ensure this value is less than or equal to 3650."),
        ("a month", "Enter a whole number."),
    ],
)
def test_a_retention_out_of_range_is_said_at_its_field(personas, login, days, error):
    content = login(personas.owner).post(RETENTION, {"days": days}).content.decode()
    assert error in content
    assert not Retention.objects.exists()


def test_retention_keeps_at_least_the_days_a_rule_reads(personas, login, rule):
    CheckerRule.objects.filter(checker=rule).update(compare="band", history_days=28)
    client = login(personas.owner)

    content = client.post(RETENTION, {"days": "14"}).content.decode()

    assert (
        "A rule of few-null-emails reads the last 28 days of history: keep runs at least that long."
        in content
    )
    assert not Retention.objects.exists()
    assert client.post(RETENTION, {"days": "28"}).status_code == 302


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_an_editor_or_viewer_reads_the_retention_but_cannot_change_it(personas, login, role):
    Retention.objects.create(namespace=personas.a, days=60)
    client = login(personas[role])

    content = client.get(RETENTION).content.decode()
    assert 'value="60"' in content and "disabled" in content
    assert 'data-testid="save"' not in content
    assert client.post(RETENTION, {"days": "7"}).status_code == 403
    assert Retention.objects.get(namespace=personas.a).days == 60


def test_outsiders_do_not_find_the_retention(personas, login):
    assert login(personas.outsider).get(RETENTION).status_code == 404


def test_the_admin_shows_the_retention_and_lets_only_owners_change_it(personas, login):
    retention = Retention.objects.create(namespace=personas.a, days=60)
    path = f"/admin/checkers/retention/{retention.pk}/change/"
    assert login(personas.viewer).get("/admin/checkers/retention/").status_code == 200
    assert login(personas.editor).post(path, {"namespace": personas.a.pk, "days": "7"}).status_code == 403
    response = login(personas.owner).post(path, {"namespace": personas.a.pk, "days": "7"})
    assert response.status_code == 302
    assert Retention.objects.get(pk=retention.pk).days == 7
