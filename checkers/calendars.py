"""Business calendars: weekdays, less a country's public holidays and the namespace's own days off.

One calendar answers for a namespace's rules ("only on business days", "another bound outside
them") and for its Python checkers' ``business_day(date=None)``, so both agree on every date.
Holidays come from the ``holidays`` package, computed locally (nothing is downloaded).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import holidays


def countries() -> list[str]:
    """The ISO 3166 codes the ``holidays`` package knows, sorted."""
    return sorted(holidays.list_supported_countries())


def subdivisions(country: str) -> list[str]:
    return sorted(holidays.list_supported_countries().get(country.upper(), []))


def parse_days(text: str) -> list[datetime.date]:
    """The namespace's own days off from text, one ISO date per line or comma; ``ValueError``
    naming the first that is not a date."""
    days = []
    for word in text.replace(",", "\n").split():
        try:
            days.append(datetime.date.fromisoformat(word))
        except ValueError:
            raise ValueError(f"{word!r} is not a date: write it as 2026-12-24") from None
    return sorted(set(days))


@dataclass(frozen=True)
class Calendar:
    """Monday to Friday are business days, unless a public holiday of ``country`` (and
    ``subdivision``, a state or region) or one of ``days_off``."""

    country: str = ""
    subdivision: str = ""
    days_off: frozenset[datetime.date] = field(default_factory=frozenset)

    @cached_property
    def _holidays(self) -> holidays.HolidayBase | dict[datetime.date, str]:
        if not self.country:
            return {}
        return holidays.country_holidays(self.country, subdiv=self.subdivision or None)

    def day_off(self, day: datetime.date) -> str | None:
        """Why ``day`` is not a business day ("Saturday", "Christmas Day", "a day off of the
        namespace"), or None when it is one."""
        if day.weekday() >= 5:
            return f"{day:%A}"
        if day in self.days_off:
            return "a day off of the namespace"
        return self._holidays.get(day)

    def is_business_day(self, day: datetime.date) -> bool:
        return self.day_off(day) is None

    def check(self) -> None:
        """``ValueError`` when the country or subdivision is not one the package knows."""
        if not self.country:
            if self.subdivision:
                raise ValueError("A subdivision needs its country.")
            return
        known = holidays.list_supported_countries()
        if self.country not in known:
            raise ValueError(
                f"{self.country!r} is not a country code the holidays package knows (DE, FR, US...)."
            )
        if self.subdivision and self.subdivision not in known[self.country]:
            choices = ", ".join(known[self.country])
            raise ValueError(
                f"{self.subdivision!r} is not a subdivision of {self.country}: one of {choices}."
            )

    @classmethod
    def of(cls, settings: Any | None) -> Calendar:
        """The calendar a ``BusinessCalendar`` row describes; weekdays only without one."""
        if settings is None:
            return cls()
        return cls(settings.country, settings.subdivision, frozenset(parse_days(settings.days_off)))


def dates_text(days: Iterable[datetime.date]) -> str:
    return "\n".join(day.isoformat() for day in sorted(days))
