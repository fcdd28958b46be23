from datetime import timedelta

from django.utils import timezone

from alarms.models import AlarmPolicy, AlarmState, MaintenanceWindow
from checkers import runs
from checkers.models import Checker
from runbooks.models import Runbook


def dashboard(client, query: str = ""):
    return client.get(f"/n/alpha/{query}")


def rows(response) -> dict[str, str]:
    return {row.checker.slug: row.state for row in response.context["rows"]}


def test_counts_by_state_and_every_checker_worst_first(personas, login, red, python_checker, shop):
    runs.execute(python_checker)
    response = dashboard(login(personas.viewer))
    assert response.status_code == 200
    assert {state: count for state, _, count, _ in response.context["counts"]} == {
        "red": 2,
        "error": 0,
        "unknown": 0,
        "green": 0,
        "late": 0,
    }
    content = response.content.decode()
    assert 'data-testid="count-red"' in content
    assert [row.checker.slug for row in response.context["rows"]] == ["few-null-emails", "few-null-emails-py"]


def test_each_row_has_state_times_duration_sparkline_and_runbook(personas, login, red):
    book = Runbook.objects.create(namespace=personas.a, slug="null-emails", title="Null e-mails", body="x")
    red.runbook = book
    red.save(update_fields=["runbook"])
    response = dashboard(login(personas.viewer))
    content = response.content.decode()
    row = response.context["rows"][0]
    assert row.state == "red"
    assert row.last_run.status == "red"
    assert 'data-testid="sparkline"' in content
    assert content.count("<svg") >= 2
    assert '<rect x="0.5"' in str(row.sparkline)
    assert 'class="spark-red"' in str(row.sparkline)
    assert book.get_absolute_url() in content
    assert "just now</time>" in content


def test_sparkline_keeps_the_last_30_runs_oldest_first(personas, login, rule, shop):
    for _ in range(33):
        runs.execute(rule)
    shop.set_null_emails(50)
    runs.execute(rule)
    row = dashboard(login(personas.viewer)).context["rows"][0]
    assert len(row.runs) == 30
    assert row.runs[-1].status == "red"
    assert [run.finished for run in row.runs] == sorted(run.finished for run in row.runs)


def test_markers_for_muted_acknowledged_disabled_and_maintenance(personas, login, red):
    state = AlarmState.objects.get(checker=red)
    state.acknowledge(personas.editor, "on it")
    state.mute(personas.editor, timezone.now() + timedelta(hours=1), "deploying")
    policy, _ = AlarmPolicy.objects.get_or_create(checker=red)
    policy.set_enabled(False, personas.editor, "migrating the table")
    MaintenanceWindow.objects.create(
        namespace=personas.a,
        name="Upgrade",
        starts=timezone.now() - timedelta(minutes=5),
        ends=timezone.now() + timedelta(hours=1),
    )
    response = dashboard(login(personas.viewer))
    content = response.content.decode()
    for marker in ("muted", "acked", "disabled", "maintenance"):
        assert f'data-testid="marker-{marker}"' in content
    assert "migrating the table" in content
    assert 'data-testid="maintenance-banner"' in content
    assert response.context["silenced"] == 2  # the window silences both


def test_filters_by_state_severity_tag_and_search(personas, login, red, python_checker):
    Checker.objects.filter(pk=python_checker.pk).update(tags="billing, nightly", severity="critical")
    client = login(personas.viewer)
    assert set(rows(dashboard(client, "?state=red"))) == {"few-null-emails"}
    assert set(rows(dashboard(client, "?state=unknown"))) == {"few-null-emails-py"}
    assert set(rows(dashboard(client, "?severity=critical"))) == {"few-null-emails-py"}
    assert set(rows(dashboard(client, "?tag=nightly"))) == {"few-null-emails-py"}
    assert set(rows(dashboard(client, "?q=PYTHON"))) == {"few-null-emails-py"}
    assert set(rows(dashboard(client, "?state=bogus"))) == {"few-null-emails", "few-null-emails-py"}
    empty = dashboard(client, "?q=nothing-like-this")
    assert 'data-testid="no-match"' in empty.content.decode()
    assert empty.context["total"] == 2
    assert dashboard(client).context["tags"] == ["billing", "nightly"]


def test_count_tiles_count_what_the_search_severity_and_tag_leave(personas, login, red, python_checker):
    Checker.objects.filter(pk=python_checker.pk).update(tags="nightly", severity="critical")
    client = login(personas.viewer)
    counts = {
        state: (count, query) for state, _, count, query in dashboard(client, "?q=python").context["counts"]
    }
    assert counts == {
        "red": (0, "state=red&q=python"),
        "error": (0, "state=error&q=python"),
        "unknown": (1, "state=unknown&q=python"),
        "green": (0, "state=green&q=python"),
        "late": (0, "state=late&q=python"),
    }
    # A tile counts every state of the other filters, the one chosen too.
    tiles = dashboard(client, "?state=red&tag=nightly").context["counts"]
    assert [(state, count) for state, _, count, _ in tiles] == [
        ("red", 0),
        ("error", 0),
        ("unknown", 1),
        ("green", 0),
        ("late", 0),
    ]
    assert 'href="?state=unknown&amp;tag=nightly"' in dashboard(client, "?tag=nightly").content.decode()


def test_live_fragment_polls_itself_with_the_same_filters(personas, login, red):
    client = login(personas.viewer)
    page = dashboard(client, "?state=red").content.decode()
    assert 'hx-get="/n/alpha/dashboard/live/?state=red"' in page
    assert 'hx-trigger="every 15s"' in page
    fragment = client.get("/n/alpha/dashboard/live/?state=red")
    content = fragment.content.decode()
    assert content.lstrip().startswith('<div id="dashboard-live"')
    assert "<html" not in content
    assert 'hx-get="/n/alpha/dashboard/live/?state=red"' in content
    assert set(rows(fragment)) == {"few-null-emails"}


def test_htmx_is_served_locally(personas, login, client):
    content = dashboard(login(personas.viewer)).content.decode()
    assert "/static/vendor/htmx/htmx.min.js" in content
    assert "cdn" not in content.lower()
    assert client.get("/static/vendor/htmx/htmx.min.js").status_code == 200


def test_empty_dashboard_says_what_to_do_next(personas, login):
    owner = dashboard(login(personas.owner)).content.decode()
    assert 'data-testid="empty-dashboard"' in owner
    assert "/n/alpha/datasources/new/" in owner
    assert "Create a checker" in owner
    viewer = dashboard(login(personas.viewer)).content.decode()
    assert "Create a checker" not in viewer
    assert "an editor or owner creates checkers" in viewer


def test_viewer_gets_no_new_checker_button(personas, login, rule):
    assert 'data-testid="new-checker"' not in dashboard(login(personas.viewer)).content.decode()
    assert 'data-testid="new-checker"' in dashboard(login(personas.editor)).content.decode()


def test_other_namespaces_checkers_never_show(personas, login, rule):
    Checker.objects.create(
        namespace=personas.b, slug="b-secret", name="Beta's secret checker", schedule_every=60
    )
    content = dashboard(login(personas.owner)).content.decode()
    assert "secret checker" not in content
    assert login(personas.outsider).get("/n/alpha/dashboard/live/").status_code == 404
