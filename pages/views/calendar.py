"""The settings pages of a namespace's business calendar and of how long it keeps its runs:
owners change them, members read them."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from checkers.calendars import Calendar
from checkers.models import BusinessCalendar, Retention
from namespaces.models import Namespace, Role
from pages.forms.checkers import NamespaceForm
from pages.helpers import namespace_page, namespace_row_page

# Days shown ahead on the page, so an owner sees what the calendar makes of the coming weeks.
AHEAD = 21


class BusinessCalendarForm(NamespaceForm):
    class Meta:
        model = BusinessCalendar
        fields = ["country", "subdivision", "days_off"]
        labels = {"country": "Public holidays of", "days_off": "Days off of this namespace"}


@namespace_page(post=Role.OWNER)
def calendar(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    today = timezone.now().astimezone(namespace_zone(namespace)).date()
    return namespace_row_page(
        request,
        namespace,
        BusinessCalendarForm,
        "checkers/calendar.html",
        "checkers:calendar",
        "Saved the business calendar.",
        days_off=upcoming(BusinessCalendar.calendar_of(namespace.pk), today),
        ahead=AHEAD,
        tab="calendar",
    )


class RetentionForm(NamespaceForm):
    class Meta:
        model = Retention
        fields = ["days"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The model's validators, said to the browser too (a positive field says only min 0).
        self.fields["days"].widget.attrs.update(min=1, max=Retention.MAX_DAYS)


@namespace_page(post=Role.OWNER)
def retention(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    return namespace_row_page(
        request,
        namespace,
        RetentionForm,
        "checkers/retention.html",
        "checkers:retention",
        "Runs are kept {obj.days} days.",
        tab="retention",
    )


def namespace_zone(namespace: Namespace) -> datetime.tzinfo:
    return zoneinfo.ZoneInfo(namespace.timezone)


def upcoming(calendar: Calendar, today: datetime.date) -> list[tuple[datetime.date, str]]:
    """The days off of the coming weeks, with why."""
    days = (today + datetime.timedelta(days=offset) for offset in range(AHEAD))
    return [(day, reason) for day in days if (reason := calendar.day_off(day))]
