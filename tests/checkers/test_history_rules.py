"""Rules on history: change since the previous run, anomaly bands, seasons, and learning.

The figures come from PostgreSQL (the first N orders, so the row count is N by construction)
and the history is stored runs; every band below is worked out by hand in its comment.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from checkers import history, runs
from checkers.history import Point
from checkers.models import CheckRun
from checkers.rules import Band, Compare, Metric, Operator, Rule
from checks_as_code import config
from tests.checkers.history_support import ROWS, day, set_rows, store

pytestmark = pytest.mark.django_db

# 100, 102, 98, 101, 99, 100, 103, 97: mean 100, squared deviations 28, sample sd sqrt(28/7) = 2.
STEADY = [100, 102, 98, 101, 99, 100, 103, 97]


def band(**extra) -> dict:
    return {"metric": "row_count", "compare": "band", **extra}


def daily(values, start: int = 1):
    return [(day(1, start + index), value) for index, value in enumerate(values)]


def messages(run: CheckRun) -> list[tuple[str, str]]:
    return [(m["level"], m["text"]) for m in run.messages]


def test_a_band_fires_on_the_outlier_and_not_on_a_usual_figure(counted):
    checker = counted(130, band(k=3, min_history=8))
    store(checker, daily(STEADY))

    run = runs.execute(checker)
    assert run.status == "red"
    assert messages(run) == [("fail", f"{ROWS} (130, expected 94–106 from the last 8 runs)")]

    set_rows(checker, 105)
    run = runs.execute(checker)
    assert run.status == "green"
    # The outlier (130) is now the newest run of the window: 9 figures, so the band widened.
    assert run.messages[0]["text"].startswith(f"{ROWS} (105, within ")


def test_a_mad_band_is_not_widened_by_an_outlier_in_its_history(counted):
    # 98, 99, 100, 100, 101, 102, 103, 500: median 100.5; deviations' median 1.5,
    # x 1.4826 = 2.2239, x 3 = 6.6717: 93.83 to 107.17. A mean ± 3 sd band would reach 570.
    checker = counted(106, band(band="mad", min_history=8))
    store(checker, daily([100, 102, 98, 101, 99, 100, 103, 500]))

    assert messages(runs.execute(checker)) == [
        ("ok", f"{ROWS} (106, within 93.8–107.2 from the last 8 runs)")
    ]
    # With the 106 now stored: median 101, deviations' median 2, x 1.4826 x 3 = 8.9: 92.1 to 109.9.
    set_rows(checker, 115)
    run = runs.execute(checker)
    assert (run.status, run.messages[0]["text"]) == (
        "red",
        f"{ROWS} (115, expected 92.1–109.9 from the last 9 runs)",
    )


def test_a_mad_band_of_a_mostly_flat_history_falls_back_to_the_mean_absolute_deviation():
    # 10, 10, 10, 11, 11: median 10, deviations 0, 0, 0, 1, 1: a MAD of 0 would make the band
    # 10 to 10. The mean absolute deviation, 0.4, x 1.253314 x 3 = 1.504: 8.5 to 11.5.
    spec = Rule("orders", Metric.ROW_COUNT, Operator.LT, None, compare=Compare.BAND, band=Band.MAD)
    low, high = history.band(spec, [10, 10, 10, 11, 11])
    assert (round(low, 3), round(high, 3)) == (8.496, 11.504)


def test_the_window_is_the_last_n_runs_and_the_last_d_days(counted):
    checker = counted(101, band(history_runs=4, min_history=2))
    # Only the last 4 count: 10000 four days before them is out of the window.
    store(checker, daily([10000, 100, 102, 98, 100]))
    (text,) = [m["text"] for m in runs.execute(checker).messages]
    # 100, 102, 98, 100: mean 100, sd sqrt(8/3) = 1.633, x 3 = 4.9: 95.1 to 104.9.
    assert text == f"{ROWS} (101, within 95.1–104.9 from the last 4 runs)"

    by_days = counted(101, band(history_days=3, min_history=2))
    now = CheckRun.objects.order_by("-finished").first().finished
    store(by_days, [(now - timedelta(days=5), 10000), (now - timedelta(days=2), 100), (now, 102)])
    (text,) = [m["text"] for m in runs.execute(by_days).messages]
    # 100 and 102: mean 101, sd 1.414, x 3 = 4.24: 96.76 to 105.24, from the last 3 days only.
    assert text == f"{ROWS} (101, within 96.76–105.24 from the last 2 runs (3 days))"


def test_learning_is_never_red_however_wild_the_figure(counted):
    checker = counted(100, band(band="mad", min_history=7))
    seen = []
    for rows in (100, 102, 98, 20000, 101, 99, 100):
        set_rows(checker, rows)
        run = runs.execute(checker)
        seen.append((run.status, run.messages[0]["text"]))
    assert seen == [
        ("green", f"{ROWS} (100; learning: 0 of 7 runs)"),
        ("green", f"{ROWS} (102; learning: 1 of 7 runs)"),
        ("green", f"{ROWS} (98; learning: 2 of 7 runs)"),
        ("green", f"{ROWS} (20,000; learning: 3 of 7 runs)"),
        ("green", f"{ROWS} (101; learning: 4 of 7 runs)"),
        ("green", f"{ROWS} (99; learning: 5 of 7 runs)"),
        ("green", f"{ROWS} (100; learning: 6 of 7 runs)"),
    ]
    # Learnt: 100, 102, 98, 20000, 101, 99, 100 have median 100 and deviations' median 1,
    # x 1.4826 x 3 = 4.4478: 95.55 to 104.45.
    set_rows(checker, 5000)
    run = runs.execute(checker)
    assert (run.status, run.messages[0]["text"]) == (
        "red",
        f"{ROWS} (5,000, expected 95.55–104.45 from the last 7 runs)",
    )


def test_row_count_must_grow(counted):
    checker = counted(812, {"metric": "row_count", "compare": "change", "op": ">", "value": 0})
    first = runs.execute(checker)
    assert messages(first) == [("ok", f"{ROWS} (812; learning: 0 of 1 run)")]

    second = runs.execute(checker)
    assert second.status == "red"
    assert messages(second) == [("fail", f"{ROWS} (812: +0 since the previous run's 812, expected > 0)")]

    set_rows(checker, 1020)
    assert messages(runs.execute(checker)) == [
        ("ok", f"{ROWS} (1,020: +208 since the previous run's 812, > 0)")
    ]


def test_at_most_twenty_percent_down_since_the_previous_successful_run(counted):
    rule = {"metric": "row_count", "compare": "change_pct", "op": ">=", "value": -20, "message": "orders"}
    checker = counted(812, rule)
    store(checker, [(day(1, 1), 1000)])
    # An error run after it measured nothing to trust: the previous successful run is the 1000.
    store(checker, [(day(1, 2), 5000)], status="error")
    assert messages(runs.execute(checker)) == [
        ("ok", "orders (812: -18.8 % since the previous run's 1,000, >= -20 %)")
    ]

    set_rows(checker, 600)
    # 812 to 600 is -26.108...%.
    assert messages(runs.execute(checker)) == [
        ("fail", "orders (600: -26.11 % since the previous run's 812, expected >= -20 %)")
    ]


# Two weeks of 09:00 runs in Paris (08:00 UTC in January): weekdays about 1,000 rows,
# weekends about 100. Mondays: 1000 (5 January) and 1020 (12 January).
TWO_WEEKS = {
    5: 1000, 6: 1005, 7: 1010, 8: 1015, 9: 1020, 10: 100, 11: 96,
    12: 1020, 13: 1015, 14: 1020, 15: 1000, 16: 1005, 17: 104, 18: 98,
}  # fmt: skip


def test_a_seasonal_band_compares_a_monday_with_mondays(counted):
    seasonal = counted(110, band(seasonal="weekday_hour", min_history=2), zone="Europe/Paris")
    plain = counted(110, band(history_runs=14, min_history=2), zone="Europe/Paris")
    for checker in (seasonal, plain):
        store(checker, [(day(1, date), value) for date, value in TWO_WEEKS.items()])
    # Afternoon runs on Mondays, which the hour of day leaves out.
    store(seasonal, [(day(1, 5, hour=14), 5000), (day(1, 12, hour=14), 5000)])
    spec = seasonal.rules.get().spec()
    monday = day(1, 19)

    verdict = history.judge_for(seasonal, [spec], monday)(spec, 110)
    # 1000 and 1020: mean 1010, sd 14.142, x 3 = 42.43: 967.57 to 1052.43.
    assert (verdict.level, verdict.text) == (
        "fail",
        f"{ROWS} (110, expected 967.6–1,052.4 from the last 2 Mondays at 09:00)",
    )
    # Without the season, the weekends' figures make a band so wide a weekend's volume on a
    # Monday passes: mean 750.57, sd 427.37, x 3: -531.55 to 2032.69.
    spec = plain.rules.get().spec()
    verdict = history.judge_for(plain, [spec], monday)(spec, 110)
    assert (verdict.level, verdict.text) == ("ok", f"{ROWS} (110, within -532–2,033 from the last 14 runs)")

    # A Saturday is compared with Saturdays: 100 and 104, mean 102, sd 2.828: 93.51 to 110.49.
    spec = seasonal.rules.get().spec()
    verdict = history.judge_for(seasonal, [spec], day(1, 24))(spec, 110)
    assert (verdict.level, verdict.text) == (
        "ok",
        f"{ROWS} (110, within 93.5–110.5 from the last 2 Saturdays at 09:00)",
    )


def test_the_band_each_run_was_judged_against_is_the_rules_own(counted):
    # STEADY then 130 and 100: the 9th day's band is drawn from STEADY, 94 to 106, and it fires;
    # the 10th day's from STEADY and 130, the last 9 runs: mean 103.33, squared deviations
    # 28 + 8 * 3.33^2 + 26.67^2 = 828, sd sqrt(828 / 8) = 10.17, so 72.81 to 133.85.
    checker = counted(1, band(min_history=8))
    store(checker, daily([*STEADY, 130, 100]))
    rule = checker.rules.get().spec()
    points = history.load(checker, [rule])[ROWS]

    spans = history.expected_over(rule, points, day(1, 8), checker.zone)

    assert list(spans) == [day(1, 9), day(1, 10)]  # the 8th day learns: 7 runs before it
    assert spans[day(1, 9)] == pytest.approx((94, 106))
    assert spans[day(1, 10)] == pytest.approx((72.81, 133.85), abs=0.01)
    replays = history.replay(rule, points, day(1, 8), checker.zone)
    assert [replay.fired for replay in replays] == [False, True, False]
    runs_ = list(checker.runs.order_by("scheduled_for"))
    assert history.expected_for(checker, rule, runs_[-2:]) == {
        runs_[-2]: spans[day(1, 9)],
        runs_[-1]: spans[day(1, 10)],
    }


def test_a_change_rule_accepts_the_previous_figure_moved_by_the_allowed_change(counted):
    down = counted(1, {"metric": "row_count", "compare": "change_pct", "op": ">=", "value": -20})
    store(down, daily([1000, 812]))
    rule = down.rules.get().spec()
    points = history.load(down, [rule], limit=10)[ROWS]
    # 80 % of 1,000, then of 812; no upper end.
    assert history.expected_over(rule, points, day(1, 1), down.zone) == {day(1, 2): (800, float("inf"))}
    # From 0, any figure above is +∞ %: at least 0, no upper end (and no NaN from 0 times ∞).
    from_zero = [Point(day(1, 3), 0.0), Point(day(1, 4), 5.0)]
    assert history.expected_over(rule, from_zero, day(1, 4), down.zone) == {day(1, 4): (0, float("inf"))}
    between = counted(
        1, {"metric": "row_count", "compare": "change", "op": "between", "value": -5, "high": 10}
    )
    store(between, daily([1000, 812]))
    rule = between.rules.get().spec()
    points = history.load(between, [rule], limit=10)[ROWS]
    assert history.expected_over(rule, points, day(1, 2), between.zone) == {day(1, 2): (995, 1010)}
    assert history.expected_words(rule) == "the change allowed since the previous run (between -5 and 10)"


def test_a_rule_on_history_names_itself_on_the_checker_page(counted):
    checker = counted(1, band(band="mad", k=2.5, history_runs=4, seasonal="weekday_hour"))
    assert checker.rules.get().spec().sentence() == (
        f"{ROWS} within median ± 2.5 MAD of the last 4 runs on the same weekday and hour"
    )
    change = counted(1, {"metric": "row_count", "compare": "change_pct", "op": ">=", "value": -20})
    assert change.rules.get().spec().sentence() == f"{ROWS}: change since the previous run >= -20 %"
    assert change.rules.get().spec().bounds == []


HISTORY_YAML = """\
namespaces:
  - slug: growth
    datasources:
      - {slug: shop, engine: sqlite, url: "sqlite:///{dir}/growth/shop.sqlite3"}
    datasets:
      - {slug: orders, datasource: shop, sql: SELECT id FROM orders}
    checkers:
      - slug: orders-history
        schedule: "0 9 * * *"
        rules:
          - {dataset: orders, metric: row_count, compare: change, op: ">", value: 0}
          - {dataset: orders, metric: row_count, compare: change_pct, op: ">=", value: -20, min_history: 3}
          - {dataset: orders, metric: row_count, compare: band, band: mad, k: 2.5, history_runs: 4,
             seasonal: weekday_hour, min_history: 4}
          - {dataset: orders, metric: row_count, compare: band, history_days: 28}
          - {dataset: orders, metric: row_count, op: "<", value: 5000}
"""


def test_checks_as_code_reads_and_writes_rules_on_history(people, sqlite_dir):
    config.import_text(HISTORY_YAML.replace("{dir}", str(sqlite_dir)))

    (checker,) = yaml.safe_load(config.export_yaml())["namespaces"][0]["checkers"]
    assert checker["rules"] == [
        {"dataset": "orders", "metric": "row_count", "compare": "change", "op": ">", "value": 0},
        {
            "dataset": "orders",
            "metric": "row_count",
            "compare": "change_pct",
            "op": ">=",
            "value": -20,
            "min_history": 3,
        },
        {
            "dataset": "orders",
            "metric": "row_count",
            "compare": "band",
            "band": "mad",
            "k": 2.5,
            "history_runs": 4,
            "seasonal": "weekday_hour",
            "min_history": 4,
        },
        {"dataset": "orders", "metric": "row_count", "compare": "band", "history_days": 28},
        {"dataset": "orders", "metric": "row_count", "op": "<", "value": 5000},
    ]
    # Importing the export again changes nothing.
    plan = config.import_text(config.export_yaml())
    assert [change.action for change in plan.changes if change.kind == "checker"] == ["unchanged"]


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ("{dataset: orders, compare: change, value: 0}", "missing: a rule needs `op` (a band needs none)"),
        ("{dataset: orders, compare: band, k: 0}", "k, the band's width, must be more than 0."),
        ("{dataset: orders, compare: band, seasonal: monthly}", "one of weekday, hour, weekday_hour"),
        ("{dataset: orders, compare: band, history_runs: 0}", "expected a whole number of 1 or more"),
    ],
)
def test_checks_as_code_says_what_is_wrong_with_a_rule_on_history(people, sqlite_dir, rule, error):
    text = HISTORY_YAML.replace("{dir}", str(sqlite_dir))
    text = text.split("        rules:")[0] + f"        rule: {rule}\n"
    with pytest.raises(config.ConfigInvalid) as raised:
        config.import_text(text)
    assert any(error in str(found) for found in raised.value.errors), raised.value.errors
