import pytest

from pages.templatetags.malleable import every, seconds


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
