"""An editor sees a rule's figure charted over its history, turns the rule into an anomaly band
and backtests it in the editor before saving: "would have fired once", and when. A band rule's
page shades the band each run was judged against; a run page lists its failing rows.

With ``MALLEABLE_SCREENSHOTS=docs/screenshots`` these tests refresh ``checker-history.png`` and
``backtest.png`` (docs/checkers.md).
"""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from checkers import runs
from checkers.models import CheckRun, Trigger
from tests.browser.conftest import shoot

pytestmark = pytest.mark.browser

ROWS = "row count in users_with_email_null"


def test_the_figure_chart_and_a_backtest_of_a_band_in_the_editor(signed_in, seed, shop, folder):
    rule, _ = seed
    now = timezone.now()
    CheckRun.objects.bulk_create(
        CheckRun(
            checker=rule,
            trigger="schedule",
            status="red" if ago == 3 else "green",
            scheduled_for=now - timedelta(days=ago, minutes=-1),
            started=now - timedelta(days=ago, minutes=-1),
            finished=now - timedelta(days=ago, minutes=-1),
            duration_ms=12.0,
            figures={ROWS: 60.0 if ago == 3 else 10.0 + ago % 3},
        )
        for ago in range(14, 0, -1)
    )
    page = signed_in("editor")
    page.goto(rule.get_absolute_url())
    chart = page.get_by_test_id("figure-chart")
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute(
        "aria-label", f"{ROWS} over the last 14 runs: from 10 to 60, now 11; bound 42"
    )

    page.goto(f"{rule.get_absolute_url()}edit/")
    row = page.get_by_test_id("rule-row").nth(0)
    expect(row.get_by_test_id("rule-band")).to_be_hidden()
    row.get_by_label("Held against").select_option("band")
    expect(row.get_by_test_id("rule-band")).to_be_visible()
    row.get_by_label("Band", exact=True).select_option("mad")
    expect(row.get_by_test_id("rule-sentence")).to_contain_text("inside the band of its history")
    page.get_by_test_id("backtest-days").fill("7")
    page.get_by_test_id("editor-backtest").click()

    result = page.get_by_test_id("backtest-result")
    expect(result.get_by_test_id("backtest-headline")).to_have_text(
        "would have fired 1 time in the last 7 days (7 stored runs)"
    )
    expect(result).to_contain_text("(60, expected 6.55–15.45 from the last 11 runs)")
    result.evaluate("result => result.scrollIntoView({block: 'center'})")
    shoot(page, folder / "backtest.png")
    assert CheckRun.objects.count() == 14
    assert rule.rules.get().compare == ""


# Null e-mails, hour by hour: steady between 10 and 14, and one hour of 30.
NULLS = [10, 12, 11, 13, 10, 12, 14, 11, 12, 13, 11, 12, 30, 12, 11, 13, 12, 10, 12, 11, 13, 12, 11, 12]


def _record_hourly(rule, shop, values) -> None:
    """Real runs of the rule over the shop, one an hour back from now, as the scheduler would."""
    now = timezone.now()
    for step, nulls in enumerate(values):
        shop.set_null_emails(nulls)
        at = now - timedelta(hours=len(values) - step)
        evaluation = runs.evaluate(rule)
        runs.record(
            rule, replace(evaluation, started=at, finished=at + timedelta(milliseconds=40)), Trigger.SCHEDULE
        )


def test_a_band_rules_page_shades_the_band_each_run_was_judged_against(signed_in, seed, shop, folder):
    rule, _ = seed
    rule.rules.update(
        compare="band", band="mad", k=3, history_runs=10, min_history=5, message="Users without an e-mail"
    )
    _record_hourly(rule, shop, NULLS)
    assert (
        list(rule.runs.order_by("started").values_list("status", flat=True))
        == ["green"] * 12 + ["red"] + ["green"] * 11
    )

    page: Page = signed_in("viewer")
    page.goto(rule.get_absolute_url())
    chart = page.get_by_test_id("figure-chart")
    # The last run's band, from the 10 runs before it (12 11 13 12 10 12 11 13 12 11): median 12,
    # median absolute deviation 1, times 1.4826, times 3: 12 ± 4.4478.
    expect(chart).to_have_attribute(
        "aria-label",
        f"{ROWS} over the last 24 runs: from 10 to 30, now 12; "
        "shaded: the band median ± 3 MAD of the last 10 runs, now 7.552–16.45",
    )
    # The first five runs learn (no band), the other 19 each have theirs: one stretch.
    expect(chart.get_by_test_id("expected-band")).to_have_count(1)
    expect(chart.locator("circle.spark-red")).to_have_count(1)
    expect(page.get_by_test_id("figure-shaded")).to_have_text(
        "Shaded: the band median ± 3 MAD of the last 10 runs, as each run was judged."
    )
    page.set_viewport_size({"width": 1280, "height": 1100})  # the header and the chart in one picture
    shoot(page, folder / "checker-history.png")


def test_the_run_page_lists_the_failing_rows_and_which_are_new(signed_in, seed, shop):
    rule, _ = seed
    rule.rules.update(op="==", value=0, key_column="username")
    shop.set_null_emails(3)
    runs.execute(rule)
    shop.set_null_emails(5)
    second = runs.execute(rule)

    page: Page = signed_in("viewer")
    page.goto(rule.get_absolute_url())
    row = page.locator(f"[data-run='{second.uuid}']")
    row.locator("summary").click()
    row.get_by_role("link", name="Open this run").click()
    rows = page.get_by_test_id("failing-rows")
    expect(rows.get_by_role("heading")).to_have_text("Failing rows in users_with_email_null")
    expect(rows.get_by_test_id("failing-rows-summary")).to_have_text(
        "2 new failing rows (5 in all), new and gone since the previous run. Keys: username."
    )
    expect(rows.locator("code")).to_have_text(["null0", "null1", "null2", "null3", "null4"])
    expect(rows.get_by_test_id("new-key")).to_have_count(2)
    expect(rows.locator("li").filter(has=page.get_by_test_id("new-key"))).to_have_text(
        ["null3 new", "null4 new"]
    )
