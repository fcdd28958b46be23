"""The dashboard counts late checkers in their own tile and filters them with ``?state=late``
(late is a filter over rows: a late checker keeps its alarm state); the runbook page marks its
late checkers; a line says how many alarms the namespace's channels hold undelivered."""

from datetime import timedelta

from django.utils import timezone

from alarms.models import AlarmEvent, Channel, Notification
from checkers.models import Checker
from runbooks.models import Runbook


def late_by(checker: Checker, minutes: int) -> None:
    Checker.objects.filter(pk=checker.pk).update(next_run_at=timezone.now() - timedelta(minutes=minutes))


def counts(response) -> dict[str, int]:
    return {state: count for state, _, count, _ in response.context["counts"]}


def test_a_late_red_checker_counts_as_red_and_as_late(personas, login, red, python_checker):
    late_by(red, 20)
    Checker.objects.filter(pk=python_checker.pk).update(next_run_at=timezone.now() + timedelta(minutes=5))
    response = login(personas.viewer).get("/n/alpha/")
    assert counts(response) == {"red": 1, "error": 0, "unknown": 1, "green": 0, "late": 1}
    content = response.content.decode()
    assert 'data-testid="count-late"' in content
    assert 'href="?state=late"' in content
    assert '<option value="late">Late</option>' in content


def test_the_late_filter_lists_only_late_checkers(personas, login, red, python_checker):
    late_by(python_checker, 30)
    Checker.objects.filter(pk=red.pk).update(next_run_at=timezone.now() + timedelta(minutes=5))
    client = login(personas.viewer)
    response = client.get("/n/alpha/?state=late")
    assert [row.checker.slug for row in response.context["rows"]] == [python_checker.slug]
    assert response.context["rows"][0].state == "unknown", "late keeps the alarm state"
    assert response.context["filters"].state == "late"
    live = client.get("/n/alpha/dashboard/live/?state=late")
    assert [row.checker.slug for row in live.context["rows"]] == [python_checker.slug]
    assert counts(client.get("/n/alpha/?q=no-such-name"))["late"] == 0, (
        "the tile counts what the search leaves"
    )


def test_a_paused_checker_is_never_late(personas, login, red):
    late_by(red, 20)
    Checker.objects.filter(pk=red.pk).update(enabled=False)
    assert counts(login(personas.viewer).get("/n/alpha/"))["late"] == 0


def test_the_runbook_page_marks_its_late_checkers(personas, login, red, python_checker):
    book = Runbook.objects.create(namespace=personas.a, slug="rb", title="RB", body="x")
    Checker.objects.filter(pk__in=[red.pk, python_checker.pk]).update(runbook=book)
    late_by(red, 20)
    Checker.objects.filter(pk=python_checker.pk).update(next_run_at=timezone.now() + timedelta(minutes=5))
    content = login(personas.viewer).get(book.get_absolute_url()).content.decode()
    assert content.count('data-testid="marker-late"') == 1
    assert 'data-testid="marker-late">late 20 min' in content


def notification(checker: Checker, channel: Channel, status: str, attempts: int = 0, age_s: int = 0):
    created = timezone.now() - timedelta(seconds=age_s)
    event = AlarmEvent.objects.create(
        namespace=channel.namespace,
        checker=checker,
        kind="fired",
        payload={"dedup_key": "k", "namespace": "alpha", "checker": checker.slug, "event": "fired"},
        created=created,
    )
    return Notification.objects.create(
        event=event, channel=channel, status=status, attempts=attempts, created=created
    )


def test_the_dashboard_says_how_many_alarms_its_channels_hold(personas, login, rule, b_objects):
    hook = Channel.objects.create(
        namespace=personas.a, slug="hook", kind="webhook", url="https://x.example", secret="k"
    )
    off = Channel.objects.create(
        namespace=personas.a, slug="off", kind="webhook", url="https://y.example", secret="k"
    )
    client = login(personas.viewer)
    notification(rule, hook, "pending")  # just written, on its way: not held
    notification(rule, hook, "delivered", attempts=1, age_s=600)
    assert b'data-testid="held-alarms"' not in client.get("/n/alpha/").content

    notification(rule, off, "held", age_s=5)
    notification(rule, off, "held", age_s=900)
    notification(rule, hook, "pending", attempts=2, age_s=30)  # a delivery failed
    notification(rule, hook, "pending", age_s=120)  # nobody tried for two minutes: no worker
    other = Channel.objects.create(
        namespace=personas.b, slug="b-off", kind="webhook", url="https://z.example", secret="k"
    )
    notification(rule, other, "held", age_s=900)  # namespace B's: never counted in A

    response = client.get("/n/alpha/")
    assert response.context["held_alarms"] == {"held": 2, "retrying": 2, "total": 4}
    content = response.content.decode()
    assert "4 alarms not delivered:</strong>" in content
    assert "2 held on a disabled channel, 2 waiting for their channels to answer." in content
    assert 'href="/n/alpha/settings/channels/"' in content
    assert 'href="/n/alpha/alarms/"' in content
    assert b'data-testid="held-alarms"' in client.get("/n/alpha/dashboard/live/").content
