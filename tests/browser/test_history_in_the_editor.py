"""An editor sees a rule's figure charted over its history, turns the rule into an anomaly band
and backtests it in the editor before saving: "would have fired once", and when."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from checkers.models import CheckRun

pytestmark = pytest.mark.browser

ROWS = "row count in users_with_email_null"


def test_the_figure_chart_and_a_backtest_of_a_band_in_the_editor(signed_in, seed, shop, tmp_path):
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
    page.screenshot(path=tmp_path / "backtest.png", full_page=True)
    assert CheckRun.objects.count() == 14
    assert rule.rules.get().compare == ""
