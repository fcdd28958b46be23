import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from alarms.models import AlarmPolicy, AlarmState, ToggleLog
from checkers import runs
from checkers.models import Checker, CheckRun, Datasource
from pages.charts import figure_chart

# A test run goes to a worker: here Celery runs it in the request, as with CELERY_TASK_ALWAYS_EAGER.
pytestmark = pytest.mark.usefixtures("eager_tasks")
ACTIONS = [
    "run",
    "test",
    "acknowledge",
    "unacknowledge",
    "mute",
    "unmute",
    "disable-alarming",
    "enable-alarming",
]
BUTTONS = ["run-now", "test-run", "edit", "acknowledge", "mute-open", "disable-alarming-open"]


def page(checker: Checker) -> str:
    return checker.get_absolute_url()


PATHS = {"disable-alarming": "alarming/off", "enable-alarming": "alarming/on"}


def action(checker: Checker, name: str) -> str:
    return f"{page(checker)}{PATHS.get(name, name)}/"


def test_checker_url_is_its_page(rule):
    assert page(rule) == "/n/alpha/checkers/few-null-emails/"


def test_shows_current_state_and_why(personas, login, red):
    response = login(personas.viewer).get(page(red))
    content = response.content.decode()
    assert response.context["state"].state == "red"
    assert 'data-testid="why"' in content
    assert "Red since" in content
    assert "There should be less than 42 users in that state (50, expected &lt; 42)" in content
    assert 'data-testid="state-timeline"' in content
    assert 'data-testid="runs-table"' in content


def test_duration_chart_once_there_are_runs(personas, login, rule):
    runs.execute(rule)
    runs.execute(rule)
    content = login(personas.viewer).get(page(rule)).content.decode()
    assert 'data-testid="duration-chart"' in content


def test_a_charts_time_axis_tells_its_two_ends_apart(personas, login, rule):
    first = runs.execute(rule)
    second = runs.execute(rule)
    at = timezone.now().replace(second=10, microsecond=0)
    CheckRun.objects.filter(pk=first.pk).update(finished=at)
    CheckRun.objects.filter(pk=second.pk).update(finished=at + timedelta(seconds=30))
    chart = login(personas.viewer).get(page(rule)).context["durations"]
    ends = re.findall(
        r'<text x="[\d.]+" y="[\d.]+" class="tick"(?: text-anchor="end")?>([^<]+)</text>', chart
    )
    local = timezone.localtime(at)
    assert local.strftime("%d %b %H:%M:10") in ends and local.strftime("%d %b %H:%M:40") in ends


def test_timeline_of_a_young_checker_starts_at_its_first_run(personas, login, rule):
    CheckRun.objects.create(checker=rule, trigger="manual", status="green", queued=timezone.now())
    CheckRun.objects.filter(checker=rule).update(queued=timezone.now() - timedelta(hours=3))
    response = login(personas.viewer).get(page(rule))
    assert response.context["timeline_start"] == rule.known_since()
    assert timezone.now() - response.context["timeline_start"] < timedelta(hours=4)
    content = response.content.decode()
    assert "State since" in content
    assert "State over the last 3 hours" in content


def test_timeline_of_an_old_checker_shows_seven_days(personas, login, rule):
    Checker.objects.filter(pk=rule.pk).update(created=timezone.now() - timedelta(days=30))
    content = login(personas.viewer).get(page(rule)).content.decode()
    assert "State, last 7 days" in content


def test_repeat_is_said_in_the_schedule_words(personas, login, rule):
    AlarmPolicy.objects.update_or_create(checker=rule, defaults={"repeat_every": 3600})
    content = login(personas.viewer).get(page(rule)).content.decode()
    assert "every hour" in content
    assert "3600 s" not in content


def test_never_run_checker_says_so(personas, login, rule):
    content = login(personas.editor).get(page(rule)).content.decode()
    assert "Not run yet" in content
    assert "Press <strong>Run now</strong>" in content


def test_runs_table_opens_messages_logs_stats_and_errors(personas, login, python_checker, shop):
    python_checker.source = "print('counting')\nraise ValueError('boom')\n"
    python_checker.save(update_fields=["source"])
    run = runs.execute(python_checker)
    content = login(personas.viewer).get(page(python_checker)).content.decode()
    assert "<details>" in content
    assert "counting" in content
    assert "ValueError: boom" in content
    assert 'data-testid="dataset-stats"' in content
    assert 'data-testid="error-line">at line 2' in content
    assert f"/n/alpha/runs/{run.uuid}/" in content


def test_run_page(personas, login, red):
    run = red.runs.get()
    response = login(personas.viewer).get(f"/n/alpha/runs/{run.uuid}/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "users_with_email_null" in content
    assert "expected &lt; 42" in content


def test_a_run_of_another_namespace_is_404(personas, login, red):
    run = red.runs.get()
    assert login(personas.outsider).get(f"/n/beta/runs/{run.uuid}/").status_code == 404
    assert login(personas.outsider).get(f"/n/alpha/runs/{run.uuid}/").status_code == 404


def test_editor_sees_every_button(personas, login, red):
    content = login(personas.editor).get(page(red)).content.decode()
    for button in BUTTONS:
        assert f'data-testid="{button}"' in content, button


def test_viewer_sees_no_buttons(personas, login, red):
    content = login(personas.viewer).get(page(red)).content.decode()
    for button in BUTTONS:
        assert f'data-testid="{button}"' not in content, button
    assert 'data-testid="read-only-note"' in content


@pytest.mark.parametrize("name", ACTIONS)
def test_viewer_posts_get_403_and_change_nothing(personas, login, red, name):
    before = (CheckRun.objects.count(), ToggleLog.objects.count())
    response = login(personas.viewer).post(action(red, name), {"reason": "x", "minutes": 60})
    assert response.status_code == 403
    assert (CheckRun.objects.count(), ToggleLog.objects.count()) == before


@pytest.mark.parametrize("name", ACTIONS)
def test_actions_are_post_only(personas, login, red, name):
    assert login(personas.editor).get(action(red, name)).status_code == 405


@pytest.mark.parametrize("name", ACTIONS)
def test_outsiders_get_404(personas, login, red, name):
    assert login(personas.outsider).post(action(red, name)).status_code == 404


def test_run_now_records_a_run(personas, login, rule, shop):
    shop.set_null_emails(50)
    response = login(personas.editor).post(action(rule, "run"), follow=True)
    assert response.redirect_chain[-1][0] == page(rule)
    run = rule.runs.get()
    assert (run.status, run.trigger) == ("red", "manual")
    assert AlarmState.objects.get(checker=rule).state == "red"
    assert "Ran Few null e-mails: red." in response.content.decode()


def test_test_run_records_nothing(personas, login, rule, shop):
    shop.set_null_emails(50)
    client = login(personas.editor)
    response = client.post(action(rule, "test"))
    assert response.status_code == 200
    assert not CheckRun.objects.exists()
    assert AlarmState.objects.get(checker=rule).state == "unknown"
    assert Checker.objects.get(pk=rule.pk).last_run_at is None
    content = response.content.decode()
    assert 'data-testid="test-result"' in content
    assert "Nothing was recorded" in content
    assert "expected &lt; 42" in content


def test_test_run_through_htmx_returns_only_the_result(personas, login, rule):
    response = login(personas.editor).post(action(rule, "test"), HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="test-result"')
    assert "<html" not in content
    assert not CheckRun.objects.exists()


def test_acknowledge_a_red_checker(personas, login, red):
    response = login(personas.editor).post(action(red, "acknowledge"), {"reason": "looking"}, follow=True)
    state = AlarmState.objects.get(checker=red)
    assert state.acknowledged_by == personas.editor
    assert state.ack_reason == "looking"
    assert ToggleLog.objects.filter(checker=red, action="acknowledged").exists()
    content = response.content.decode()
    assert 'data-testid="marker-acked"' in content
    assert 'data-testid="unacknowledge"' in content
    login(personas.editor).post(action(red, "unacknowledge"))
    assert AlarmState.objects.get(checker=red).acknowledged_at is None


def test_acknowledging_a_green_checker_is_refused_with_a_message(personas, login, rule):
    response = login(personas.editor).post(action(rule, "acknowledge"), follow=True)
    assert "nothing to acknowledge" in response.content.decode()
    assert AlarmState.objects.get(checker=rule).acknowledged_at is None


def test_mute_for_a_while_and_unmute(personas, login, red):
    client = login(personas.editor)
    client.post(action(red, "mute"), {"minutes": 240, "reason": "deploying"})
    state = AlarmState.objects.get(checker=red)
    assert (
        timezone.now() + timedelta(hours=3, minutes=59)
        < state.muted_until
        < timezone.now() + timedelta(hours=4, minutes=1)
    )
    assert state.mute_reason == "deploying"
    assert 'data-testid="unmute"' in client.get(page(red)).content.decode()
    client.post(action(red, "unmute"))
    assert AlarmState.objects.get(checker=red).muted_until is None


def test_mute_refuses_a_made_up_duration(personas, login, red):
    response = login(personas.editor).post(action(red, "mute"), {"minutes": 99999999}, follow=True)
    assert "Pick how long to mute for." in response.content.decode()
    assert AlarmState.objects.get(checker=red).muted_until is None


def test_disable_alarming_needs_a_reason(personas, login, red):
    client = login(personas.editor)
    response = client.post(action(red, "disable-alarming"), {"reason": ""}, follow=True)
    assert "Say why alarming goes off" in response.content.decode()
    assert not AlarmPolicy.objects.filter(checker=red, enabled=False).exists()
    client.post(action(red, "disable-alarming"), {"reason": "table migration"})
    policy = AlarmPolicy.objects.get(checker=red)
    assert (policy.enabled, policy.disabled_reason, policy.disabled_by) == (
        False,
        "table migration",
        personas.editor,
    )
    content = client.get(page(red)).content.decode()
    assert 'data-testid="enable-alarming"' in content
    assert "alarming disabled" in content
    client.post(action(red, "enable-alarming"))
    assert AlarmPolicy.objects.get(checker=red).enabled


def test_delete_checker(personas, login, rule):
    assert login(personas.viewer).post(f"{page(rule)}delete/").status_code == 403
    client = login(personas.editor)
    assert "Delete Few null e-mails" in client.get(f"{page(rule)}delete/").content.decode()
    response = client.post(f"{page(rule)}delete/")
    assert response["Location"] == "/n/alpha/"
    assert not Checker.objects.filter(pk=rule.pk).exists()


CUT_DETAIL = (
    "dataset_truncated: dataset users_with_email_null: 7 rows fetched and more were left (the row cap "
    "of datasource shop); aggregate or filter in the dataset's SQL, raise the datasource's row cap, "
    "or mark the dataset as a sample"
)


def cut_at_7(checker: Checker, shop, nulls: int = 20) -> None:
    """The seed's dataset holds ``nulls`` rows and its datasource stops at 7."""
    Datasource.objects.filter(datasets__checkers=checker).update(row_cap=7)
    shop.set_null_emails(nulls)


def test_a_run_on_a_cut_dataset_is_an_error_the_page_explains(personas, login, python_checker, shop):
    cut_at_7(python_checker, shop)
    run = runs.execute(python_checker)
    assert (run.status, run.error_kind, run.error_detail) == ("error", "dataset_truncated", CUT_DETAIL)
    content = login(personas.viewer).get(page(python_checker)).content.decode()
    assert "Error: <code>dataset_truncated</code>" in content
    assert escape(CUT_DETAIL) in content
    assert 'data-testid="stat-cut">hit: rows cut</span>' in content
    assert AlarmState.objects.get(checker=python_checker).state == "error"


def test_the_pages_test_run_on_a_cut_dataset_shows_the_error_and_records_nothing(
    personas, login, python_checker, shop
):
    cut_at_7(python_checker, shop)
    response = login(personas.editor).post(action(python_checker, "test"), HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert response.context["evaluation"].outcome.error.detail == CUT_DETAIL
    assert "Error: <code>dataset_truncated</code>" in content
    assert escape(CUT_DETAIL) in content
    assert not CheckRun.objects.exists()


def test_a_sample_dataset_is_badged_on_the_checker_page_and_its_run_judged(
    personas, login, python_checker, shop
):
    cut_at_7(python_checker, shop, nulls=50)
    python_checker.datasets.update(sample=True)
    run = runs.execute(python_checker)
    assert (run.status, run.error_kind) == ("green", "")
    content = login(personas.viewer).get(page(python_checker)).content.decode()
    assert content.count('data-testid="sample-badge"') == 1
    assert ">sample: first 7 rows</span>" in content
    assert 'data-testid="stat-sample">sample: first 7 rows</span>' in content


def test_a_rule_checkers_page_says_its_rules_in_words(personas, login, rule):
    dataset = rule.rules.get().dataset
    rule.rules.create(
        dataset=dataset, metric="avg", column="amount", op="between", value=1, high=2.5, position=1
    )
    content = login(personas.viewer).get(rule.get_absolute_url()).content.decode()
    assert '<code class="text-break">row count in users_with_email_null &lt; 42</code>' in content
    assert "average of amount in users_with_email_null between 1 and 2.5" in content
    assert "There should be less than 42 users in that state" in content


def test_a_rule_figure_is_charted_over_its_runs_with_its_bound(personas, login, rule, shop):
    for null_emails in (10, 30, 50):
        shop.set_null_emails(null_emails)
        runs.execute(rule)
    content = login(personas.viewer).get(rule.get_absolute_url()).content.decode()
    assert 'data-testid="figure-chart"' in content
    label = "row count in users_with_email_null over the last 3 runs: from 10 to 50, now 50; bound 42"
    assert f'aria-label="{label}"' in content
    assert content.count('class="bound"') == 1


def daily_figures(rule: Checker, values: list[int]) -> None:
    """Green runs a day apart up to now, each with its row count."""
    start = timezone.now() - timedelta(days=len(values))
    CheckRun.objects.bulk_create(
        CheckRun(
            checker=rule,
            trigger="schedule",
            status="green",
            scheduled_for=start + timedelta(days=i),
            started=start + timedelta(days=i),
            finished=start + timedelta(days=i),
            figures={"row count in users_with_email_null": value},
        )
        for i, value in enumerate(values)
    )


def test_a_band_rule_figure_is_charted_with_the_band_each_run_was_judged_against(personas, login, rule):
    # 10, 12, 10, 12, then 11: the fifth run's band is mean 11 ± 3 sd (sd 1.155), 7.536 to 14.46.
    rule.rules.update(compare="band", min_history=4)
    daily_figures(rule, [10, 12, 10, 12, 11])
    content = login(personas.viewer).get(rule.get_absolute_url()).content.decode()
    label = (
        "row count in users_with_email_null over the last 5 runs: from 10 to 12, now 11; "
        "shaded: the band mean ± 3 sd of the last 30 runs, now 7.536–14.46"
    )
    assert f'aria-label="{escape(label)}"' in content
    assert content.count('data-testid="expected-band"') == 1
    assert 'class="bound"' not in content
    assert "Shaded: the band mean ± 3 sd of the last 30 runs, as each run was judged." in content


def test_a_change_rule_figure_is_charted_with_the_change_it_allowed(personas, login, rule):
    rule.rules.update(compare="change_pct", op=">=", value=-20)
    daily_figures(rule, [1000, 812])
    content = login(personas.viewer).get(rule.get_absolute_url()).content.decode()
    # 812 was held to at least 80 % of 1,000; the first run had nothing to change from.
    label = (
        "row count in users_with_email_null over the last 2 runs: from 812 to 1,000, now 812; "
        "shaded: the change allowed since the previous run (&gt;= -20 %), now at least 800"
    )
    assert f'aria-label="{label}"' in content
    assert content.count('data-testid="expected-band"') == 1


def test_runs_are_paged_back_to_the_first(personas, login, rule):
    start = timezone.now() - timedelta(days=1)
    CheckRun.objects.bulk_create(
        CheckRun(checker=rule, trigger="schedule", status="green", queued=start + timedelta(minutes=i))
        for i in range(120)
    )
    client = login(personas.viewer)
    first = client.get(page(rule))
    newest = [run.queued for run in first.context["runs"]]
    assert len(newest) == 50 and newest == sorted(newest, reverse=True)
    assert newest[0] == start + timedelta(minutes=119)
    assert 'href="?runs=2#runs-heading" rel="next">Older</a>' in first.content.decode()
    last = client.get(page(rule), {"runs": 3}).context["runs"]
    assert [run.queued for run in last] == [start + timedelta(minutes=i) for i in range(19, -1, -1)]
    assert not last.has_next()


def test_a_figure_chart_without_a_bound_labels_its_scale_at_round_ends():
    now = timezone.now()
    history = [
        CheckRun(pk=i + 1, status="green", finished=now - timedelta(hours=3 - i), figures={"rows": value})
        for i, value in enumerate([6.552, 12.0, 30.0])
    ]
    chart = figure_chart("rows", history, bounds=[])
    ends = re.findall(r'class="tick" text-anchor="end">([^<]+)</text>', chart)
    assert ends[-2:] == ["30", "5"]
    assert "from 6.552 to 30, now 30" in chart
