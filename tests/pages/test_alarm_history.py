from alarms.models import AlarmEvent, AlarmState, Channel, Notification, Transition
from checkers import runs
from checkers.models import Checker, CheckRun

HISTORY = "/n/alpha/alarms/"


def test_shows_alarms_with_delivery_status_attempts_and_state_changes(personas, login, rule, shop):
    channel = Channel.objects.create(namespace=personas.a, slug="mail", kind="email", url="ops@example.com")
    shop.set_null_emails(50)
    runs.execute(rule)
    notification = Notification.objects.get(channel=channel)
    notification.deliver(tries=1)
    response = login(personas.viewer).get(HISTORY)
    content = response.content.decode()
    assert [event.kind for event in response.context["page"].object_list] == ["fired"]
    assert 'data-testid="notification" data-status="delivered"' in content
    assert "mail" in content
    assert [(t.old, t.new) for t in response.context["transitions"]] == [("unknown", "red")]


def test_undelivered_notifications_show_their_error(personas, login, rule, shop, settings):
    settings.CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]
    Channel.objects.create(namespace=personas.a, slug="hook", kind="webhook", url="http://127.0.0.1:1/hook")
    shop.set_null_emails(50)
    runs.execute(rule)
    Notification.objects.get().deliver(tries=1)
    content = login(personas.viewer).get(HISTORY).content.decode()
    notification = Notification.objects.get()
    assert notification.attempts == 1
    assert 'data-status="pending"' in content
    assert notification.last_error.startswith("the webhook at 127.0.0.1 could not be reached")
    assert "the webhook at 127.0.0.1 could not be reached" in content


def test_silenced_alarm_says_why_it_was_not_sent(personas, login, rule, shop):
    shop.set_null_emails(50)
    runs.execute(rule)
    content = login(personas.viewer).get(HISTORY).content.decode()
    assert 'data-testid="suppressed"' in content
    assert "no channel" in content or "not sent" in content


def test_scoped_to_the_namespace_and_filterable(personas, login, rule, shop):
    other = Checker.objects.create(
        namespace=personas.b, slug="b-check", name="Beta's checker", schedule_every=60
    )
    run = CheckRun.objects.create(checker=other, trigger="manual", status="red")
    transition = Transition.objects.create(checker=other, old="green", new="red", run=run)
    AlarmEvent.write(other, "fired", transition, run, transition.created)
    shop.set_null_emails(50)
    runs.execute(rule)
    client = login(personas.owner)
    content = client.get(HISTORY).content.decode()
    assert "Beta&#x27;s checker" not in content and "Beta's checker" not in content
    assert list(client.get(f"{HISTORY}?checker=b-check").context["page"].object_list) == []
    assert len(client.get(f"{HISTORY}?checker=few-null-emails").context["page"].object_list) == 1
    assert list(client.get(f"{HISTORY}?kind=resolved").context["page"].object_list) == []


def test_empty_history_says_what_happens(personas, login):
    content = login(personas.owner).get(HISTORY).content.decode()
    assert 'data-testid="no-events"' in content
    assert "/n/alpha/settings/channels/" in content


def test_state_changes_and_silencing_are_paged_keeping_the_filter(personas, login, rule):
    Transition.objects.bulk_create(
        Transition(checker=rule, old="green" if i % 2 else "red", new="red" if i % 2 else "green")
        for i in range(60)
    )
    client = login(personas.viewer)
    response = client.get(HISTORY, {"checker": rule.slug})
    assert len(response.context["transitions"]) == 50
    older = f'href="?checker={rule.slug}&amp;changes=2#transitions-heading" rel="next">Older</a>'
    assert older in response.content.decode()
    second = client.get(HISTORY, {"checker": rule.slug, "changes": 2}).context["transitions"]
    assert len(second) == 10 and not second.has_next()


def test_an_acknowledgement_ended_by_a_green_run_links_that_run(personas, login, rule, shop):
    shop.set_null_emails(50)
    runs.execute(rule)
    AlarmState.objects.get(checker=rule).acknowledge(personas.editor, "on it")
    shop.set_null_emails(0)
    green = runs.execute(rule)
    link = f'href="/n/alpha/runs/{green.uuid}/" data-testid="toggle-run">the run</a>'
    client = login(personas.viewer)
    assert link in client.get(HISTORY).content.decode()
    assert link in client.get(rule.get_absolute_url()).content.decode()
    assert f"(run {green.uuid})" not in client.get(HISTORY).content.decode()
