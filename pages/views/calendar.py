"""The settings page of a namespace's business calendar: owners change it, members read it."""

from __future__ import annotations

import datetime
import zoneinfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from checkers.calendars import Calendar
from checkers.models import BusinessCalendar
from namespaces.models import Namespace, Role
from pages.forms.checkers import NamespaceForm
from pages.helpers import form_page, namespace_page, saved

# Days shown ahead on the page, so an owner sees what the calendar makes of the coming weeks.
AHEAD = 21


class BusinessCalendarForm(NamespaceForm):
    class Meta:
        model = BusinessCalendar
        fields = ["country", "subdivision", "days_off"]
        labels = {"country": "Public holidays of", "days_off": "Days off of this namespace"}


@namespace_page(post=Role.OWNER)
def calendar(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    stored = BusinessCalendar.objects.filter(namespace=namespace).first()
    form = BusinessCalendarForm(
        request.POST or None, instance=stored or BusinessCalendar(namespace=namespace), namespace=namespace
    )
    if request.method == "POST" and form.is_valid():
        form.save_changes()
        return saved(request, "Saved the business calendar.", "checkers:calendar", namespace)
    today = timezone.now().astimezone(namespace_zone(namespace)).date()
    days_off = upcoming(BusinessCalendar.calendar_of(namespace.pk), today)
    return form_page(
        request,
        namespace,
        "checkers/calendar.html",
        form,
        Role.OWNER,
        days_off=days_off,
        ahead=AHEAD,
        tab="calendar",
    )


def namespace_zone(namespace: Namespace) -> datetime.tzinfo:
    return zoneinfo.ZoneInfo(namespace.timezone)


def upcoming(calendar: Calendar, today: datetime.date) -> list[tuple[datetime.date, str]]:
    """The days off of the coming weeks, with why."""
    days = (today + datetime.timedelta(days=offset) for offset in range(AHEAD))
    return [(day, reason) for day in days if (reason := calendar.day_off(day))]
