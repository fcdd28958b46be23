from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from checkers import schedules

BERLIN = ZoneInfo("Europe/Berlin")


def test_cron_is_read_in_the_checkers_time_zone():
    daily_9am = schedules.parse("0 9 * * *")
    after = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)  # 08:00 in Berlin
    assert daily_9am.next_after(after, BERLIN) == datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def test_cron_follows_daylight_saving_time():
    daily_9am = schedules.parse("0 9 * * *")
    summer = daily_9am.next_after(datetime(2026, 7, 1, 0, 0, tzinfo=UTC), BERLIN)
    assert summer == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)


def test_interval_counts_from_the_given_moment():
    moment = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)
    assert schedules.parse(every=300).next_after(moment, BERLIN) == datetime(2026, 11, 29, 10, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "every", "message"),
    [
        ("61 * * * *", None, "not a cron schedule"),
        ("* * * *", None, "five fields"),
        ("*/5 * * * *", 60, "not both"),
        ("", 5, "too short"),
    ],
)
def test_bad_schedules_say_what_is_wrong(cron, every, message):
    with pytest.raises(ValueError, match=message):
        schedules.parse(cron, every)


def test_no_schedule_is_none():
    assert schedules.parse("", None) is None


def test_config_form_round_trips():
    assert schedules.parse("*/5 * * * *").as_config() == "*/5 * * * *"
    assert schedules.parse(every=300).as_config() == {"every": 300}
