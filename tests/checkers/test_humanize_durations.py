from datetime import timedelta

import pytest
from django.utils import timezone

from pages.templatetags.malleable import ago, every, seconds


@pytest.mark.parametrize(
    ("value", "words"),
    [(3600, "every hour"), (300, "every 5 minutes"), (90, "every 90 seconds"), (86400 * 2, "every 2 days")],
)
def test_every_says_a_repetition_as_the_schedule_does(value, words):
    assert every(value) == words


@pytest.mark.parametrize(
    ("value", "words"), [(30, "30 seconds"), (60, "1 minute"), (7200, "2 hours"), (None, "—")]
)
def test_seconds_says_a_length_of_time(value, words):
    assert seconds(value) == words


@pytest.mark.parametrize(
    ("seconds_ago", "words"),
    [(0, "just now"), (59, "just now"), (61, "1\xa0minute ago"), (3 * 3600 + 5, "3\xa0hours ago")],
)
def test_ago_never_says_zero_minutes(seconds_ago, words):
    assert ago(timezone.now() - timedelta(seconds=seconds_ago)) == words
