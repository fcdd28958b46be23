"""Business calendars: rules over a holiday, a second bound on days off, and the seed's
``business_day()`` example, verbatim, in the Python sandbox."""

from __future__ import annotations

import datetime
from datetime import UTC

import pytest
import yaml
from django.conf import settings
from django.utils import timezone

from checkers import history, runs
from checkers.calendars import Calendar
from checkers.models import BusinessCalendar, Checker, CheckerKind
from checkers.sandbox import Limits, Program, get_sandbox
from checks_as_code import config
from tests.checkers.history_support import ROWS, store

pytestmark = pytest.mark.django_db

# Christmas Day 2026 is a Friday, 23 December a Wednesday; 6 January is Epiphany in Bavaria only.
CHRISTMAS = datetime.datetime(2026, 12, 25, 9, tzinfo=UTC)
WEDNESDAY = datetime.datetime(2026, 12, 23, 9, tzinfo=UTC)
CHRISTMAS_EVE = datetime.datetime(2026, 12, 24, 9, tzinfo=UTC)


def german(namespace, **extra) -> BusinessCalendar:
    return BusinessCalendar.objects.create(namespace=namespace, country="DE", **extra)


def verdict(checker: Checker, at: datetime.datetime, measured: int) -> tuple[str, str]:
    spec = checker.rules.get().spec()
    message = history.judge_for(checker, [spec], at)(spec, measured)
    return str(message.level), message.text


def test_the_calendar_knows_weekends_holidays_subdivisions_and_days_off():
    bavaria = Calendar("DE", "BY", frozenset({datetime.date(2026, 12, 24)}))
    assert bavaria.day_off(datetime.date(2026, 12, 25)) == "Christmas Day"
    assert bavaria.day_off(datetime.date(2026, 1, 6)) == "Epiphany"
    assert Calendar("DE").day_off(datetime.date(2026, 1, 6)) is None
    assert bavaria.day_off(datetime.date(2026, 12, 24)) == "a day off of the namespace"
    assert bavaria.day_off(datetime.date(2026, 12, 26)) == "Saturday"
    assert bavaria.is_business_day(datetime.date(2026, 12, 23))
    with pytest.raises(ValueError, match="'XX' is not a country code"):
        Calendar("XX").check()
    with pytest.raises(ValueError, match="'ZZ' is not a subdivision of DE"):
        Calendar("DE", "ZZ").check()


def test_a_business_days_rule_is_not_checked_over_a_holiday(counted, personas):
    german(personas.a)
    checker = counted(50, {"metric": "row_count", "op": "<", "value": 42, "days": "business"})

    assert verdict(checker, CHRISTMAS, 50) == (
        "ok",
        f"{ROWS} (not checked: Christmas Day is not a business day)",
    )
    assert verdict(checker, WEDNESDAY, 50) == ("fail", f"{ROWS} (50, expected < 42)")
    # Without a country, Christmas is a Friday like any other.
    BusinessCalendar.objects.filter(namespace=personas.a).update(country="")
    assert verdict(checker, CHRISTMAS, 50) == ("fail", f"{ROWS} (50, expected < 42)")


def test_a_second_bound_holds_outside_business_days(counted, personas):
    german(personas.a, days_off="2026-12-24")
    rule = {"metric": "row_count", "op": "<", "value": 42, "days": "bound", "off_value": 5, "message": "few"}
    checker = counted(10, rule)

    assert verdict(checker, WEDNESDAY, 10) == ("ok", "few (10 < 42)")
    assert verdict(checker, CHRISTMAS, 10) == (
        "fail",
        "few (10, expected < 5; Christmas Day, not a business day)",
    )
    assert verdict(checker, CHRISTMAS_EVE, 3) == (
        "ok",
        "few (3 < 5; a day off of the namespace, not a business day)",
    )
    assert checker.rules.get().spec().sentence() == f"{ROWS} < 42 on business days, < 5 on other days"


def test_the_pipeline_judges_today_by_the_namespace_calendar(counted, personas):
    checker = counted(10, {"metric": "row_count", "op": "<", "value": 42, "days": "bound", "off_value": 5})
    today = timezone.now().astimezone(checker.zone).date()
    german(personas.a, days_off=today.isoformat())

    run = runs.execute(checker)

    assert run.status == "red"
    assert run.messages[0]["text"].startswith(f"{ROWS} (10, expected < 5; ")


def test_a_backtest_replays_rules_with_the_calendar(counted, personas):
    german(personas.a)
    checker = counted(10, {"metric": "row_count", "op": "<", "value": 42, "days": "business"})
    store(checker, [(CHRISTMAS, 50), (WEDNESDAY, 50)])
    tests = history.backtest_rules(
        checker, [checker.rules.get().spec()], 30, CHRISTMAS + datetime.timedelta(days=1)
    )
    assert [(replay.at, replay.fired) for replay in tests[0].replays] == [
        (WEDNESDAY, True),
        (CHRISTMAS, False),
    ]


# Around Christmas 2026 in Germany: Thursday the 24th is a business day, Friday the 25th and
# Saturday the 26th are not, Monday the 28th is.
THURSDAY = datetime.datetime(2026, 12, 24, 9, tzinfo=UTC)
SATURDAY = datetime.datetime(2026, 12, 26, 9, tzinfo=UTC)
MONDAY = datetime.datetime(2026, 12, 28, 9, tzinfo=UTC)


def test_a_business_days_change_compares_monday_with_the_last_business_day_not_the_holiday(counted, personas):
    german(personas.a)
    checker = counted(
        100, {"metric": "row_count", "compare": "change", "op": ">=", "value": 0, "days": "business"}
    )
    # Thursday 100; the holiday and the Saturday ran too, with figures far below.
    store(checker, [(THURSDAY, 100), (CHRISTMAS, 10), (SATURDAY, 20)])

    assert verdict(checker, MONDAY, 90) == (
        "fail",
        f"{ROWS} (90: -10 since the previous run's 100, expected >= 0)",
    )
    assert verdict(checker, MONDAY, 100) == ("ok", f"{ROWS} (100: +0 since the previous run's 100, >= 0)")
    # On every day, Monday compares with Saturday's 20 instead.
    checker.rules.update(days="")
    assert verdict(checker, MONDAY, 90) == ("ok", f"{ROWS} (90: +70 since the previous run's 20, >= 0)")


def test_only_business_days_feed_the_band_of_a_business_days_rule(counted, personas):
    german(personas.a)
    band = {"metric": "row_count", "compare": "band", "min_history": 4, "days": "business"}
    checker = counted(100, band)
    # The 21st to the 24th: 100, 100, 102, 98 (mean 100, sd sqrt(8/3) = 1.633, 3 sd 4.899).
    # Christmas and the Saturday saw 5 and 7, which would widen the band past 0.
    before = [WEDNESDAY - datetime.timedelta(days=days) for days in (2, 1)]
    store(checker, [(before[0], 100), (before[1], 100), (WEDNESDAY, 102), (THURSDAY, 98)])
    store(checker, [(CHRISTMAS, 5), (SATURDAY, 7)])

    assert verdict(checker, MONDAY, 90) == ("fail", f"{ROWS} (90, expected 95.1–104.9 from the last 4 runs)")
    store(checker, [(MONDAY, 100)])
    spec = checker.rules.get().spec()
    points = history.load(checker, [spec])[ROWS]
    calendar = BusinessCalendar.calendar_of(personas.a.pk)
    # Thursday: 3 business-day figures, learning; Christmas and Saturday: not judged.
    assert history.expected_over(spec, points, THURSDAY, checker.zone, calendar) == {
        MONDAY: pytest.approx((100 - 4.898979, 100 + 4.898979)),
    }


# The seed's example (SEED-malleable-checker.txt), verbatim: its spelling, its indentation.
SEED_EXAMPLE = """\
if bussiness_day():
  CheckerCase().assertLessThan(datasets['users_with_email_null'], 42, 'There should be less than 42 users in that state')
else:
  CheckerCase().assertLessThan(datasets['users_with_email_null'], 5, 'There should be less than 5 users in that state')
"""  # noqa: E501
FIVE = "There should be less than 5 users in that state"


@pytest.fixture
def seed_python(seed, shop, personas):
    shop.set_null_emails(10)
    _, python = seed
    python.source = SEED_EXAMPLE
    python.save(update_fields=["source"])
    return python


def test_the_seeds_example_runs_verbatim_on_a_day_off(seed_python, personas):
    today = timezone.now().astimezone(seed_python.zone).date()
    german(personas.a, days_off=today.isoformat())

    run = runs.execute(seed_python)

    assert (run.status, run.error_detail) == ("red", "")
    assert [(m["level"], m["text"]) for m in run.messages] == [
        (
            "fail",
            f"{FIVE} (10 rows in users_with_email_null, expected < 5)",
        )
    ]


def test_the_seeds_example_on_a_business_day_and_on_a_holiday(seed_python, personas):
    german(personas.a)
    datasets = {"users_with_email_null": {"columns": ["username"], "rows": [[f"null{i}"] for i in range(10)]}}
    sandbox = get_sandbox(settings.SANDBOX_CACHE_DIR)
    outcomes = {}
    for day in (WEDNESDAY.date(), CHRISTMAS.date()):
        answers = BusinessCalendar.answers_for(seed_python, today=day)
        outcome = sandbox.run(Program.from_python(SEED_EXAMPLE), datasets, Limits(), None, answers)
        outcomes[day] = (str(outcome.status), [m.text for m in outcome.messages])
    assert outcomes == {
        WEDNESDAY.date(): (
            "green",
            ["There should be less than 42 users in that state (10 rows in users_with_email_null < 42)"],
        ),
        CHRISTMAS.date(): (
            "red",
            [f"{FIVE} (10 rows in users_with_email_null, expected < 5)"],
        ),
    }


def test_business_day_takes_a_date_a_datetime_or_an_iso_string(personas):
    german(personas.a, days_off="2026-12-23")
    checker = Checker.objects.create(
        namespace=personas.a, slug="days", name="Days", kind=CheckerKind.PYTHON, source="x"
    )
    source = """\
import datetime
print(business_day('2026-12-22'), business_day(datetime.date(2026, 12, 23)),
    business_day(datetime.datetime(2026, 12, 25, 12)), business_day('2027-01-04'))
business_day('Tuesday')
"""
    outcome = get_sandbox(settings.SANDBOX_CACHE_DIR).run(
        Program.from_python(source), {}, Limits(), None, BusinessCalendar.answers_for(checker)
    )
    assert outcome.logs == "True False False True\n"
    assert outcome.error.kind == "python_exception"
    assert "ValueError: business_day() takes a date as 'YYYY-MM-DD', not 'Tuesday'" in outcome.error.detail


CALENDAR_YAML = """\
namespaces:
  - slug: growth
    calendar: {country: DE, subdivision: BY, days_off: [2026-12-24, "2026-12-31"]}
    datasources:
      - {slug: shop, engine: sqlite, url: "sqlite:///{dir}/growth/shop.sqlite3"}
    datasets:
      - {slug: users, datasource: shop, sql: SELECT id FROM users}
    checkers:
      - slug: few-users
        schedule: "0 9 * * *"
        rules:
          - {dataset: users, op: "<", value: 42, days: bound, off_value: 5}
          - {dataset: users, op: ">", value: 0, days: business}
"""


def test_checks_as_code_reads_and_writes_the_calendar_and_business_day_rules(people, sqlite_dir):
    config.import_text(CALENDAR_YAML.replace("{dir}", str(sqlite_dir)))

    namespace = yaml.safe_load(config.export_yaml())["namespaces"][0]
    assert namespace["calendar"] == {
        "country": "DE",
        "subdivision": "BY",
        "days_off": ["2026-12-24", "2026-12-31"],
    }
    assert namespace["checkers"][0]["rules"] == [
        {"dataset": "users", "metric": "row_count", "op": "<", "value": 42, "days": "bound", "off_value": 5},
        {"dataset": "users", "metric": "row_count", "op": ">", "value": 0, "days": "business"},
    ]
    plan = config.import_text(config.export_yaml())
    assert not plan.changed


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("country: DE", "country: XX"), "'XX' is not a country code the holidays package knows"),
        (("subdivision: BY", "subdivision: ZZ"), "'ZZ' is not a subdivision of DE"),
        (("2026-12-24", "Christmas Eve"), "'Christmas' is not a date: write it as 2026-12-24"),
        (("days: bound, off_value: 5", "days: bound"), "Another bound outside business days needs its value"),
    ],
)
def test_checks_as_code_says_what_is_wrong_with_a_calendar(people, sqlite_dir, change, error):
    text = CALENDAR_YAML.replace("{dir}", str(sqlite_dir)).replace(*change)
    with pytest.raises(config.ConfigInvalid) as raised:
        config.import_text(text)
    assert any(error in str(found) for found in raised.value.errors), raised.value.errors
