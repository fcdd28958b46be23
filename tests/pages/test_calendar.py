"""The business calendar on the settings page: owners change it, members read it, outsiders 404."""

import pytest

from checkers.models import BusinessCalendar

CALENDAR = "/n/alpha/settings/calendar/"
POST = {"country": "de", "subdivision": "by", "days_off": "2026-12-31, 2026-12-24"}


def test_owner_sets_the_country_and_days_off(personas, login):
    response = login(personas.owner).post(CALENDAR, POST)

    assert response["Location"] == CALENDAR
    calendar = BusinessCalendar.objects.get(namespace=personas.a)
    assert (calendar.country, calendar.subdivision, calendar.days_off) == (
        "DE",
        "BY",
        "2026-12-24\n2026-12-31",
    )


def test_a_bad_country_or_date_is_said_at_its_field(personas, login):
    content = (
        login(personas.owner).post(CALENDAR, POST | {"country": "XX", "days_off": "soon"}).content.decode()
    )

    assert "&#x27;XX&#x27; is not a country code the holidays package knows" in content
    assert "&#x27;soon&#x27; is not a date: write it as 2026-12-24" in content
    assert not BusinessCalendar.objects.exists()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_members_read_the_calendar_but_only_owners_change_it(personas, login, role):
    BusinessCalendar.objects.create(namespace=personas.a, country="FR")
    client = login(personas[role])

    content = client.get(CALENDAR).content.decode()
    assert 'value="FR"' in content and "disabled" in content
    assert 'data-testid="save"' not in content
    assert client.post(CALENDAR, POST).status_code == 403
    assert BusinessCalendar.objects.get(namespace=personas.a).country == "FR"


def test_outsiders_do_not_find_the_calendar(personas, login):
    assert login(personas.outsider).get(CALENDAR).status_code == 404


def test_the_page_lists_the_coming_days_off(personas, login):
    content = login(personas.owner).get(CALENDAR).content.decode()
    # Three weeks always hold a weekend.
    assert "Saturday" in content and "Sunday" in content
