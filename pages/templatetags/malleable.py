"""Small filters the pages share: durations and times to come, in words.

Seconds are never shown bare: ``seconds`` and ``every`` say them as the schedules do."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

from checkers.humanize import describe_every, describe_seconds

register = template.Library()


@register.filter
def ms(value: float | None) -> str:
    """1234.5 → "1.2 s", 87.3 → "87 ms", 0.4 → "0.4 ms"."""
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value / 1000:.1f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


@register.filter
def until(moment: datetime | None) -> str:
    """ "in 4 minutes", or "due now" once the moment has passed."""
    if moment is None:
        return ""
    left = (moment - timezone.now()).total_seconds()
    if left <= 0:
        return "due now"
    if left < 60:
        return "in under a minute"
    return f"in {timeuntil(moment)}"


@register.filter
def ago(moment: datetime | None) -> str:
    """ "4 minutes ago", or "just now" for the last minute (never "0 minutes ago")."""
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment)} ago"


@register.filter
def seconds(value: int | None) -> str:
    """3600 → "1 hour", 30 → "30 seconds"."""
    return "—" if value is None else describe_seconds(int(value))


@register.filter
def every(value: int | None) -> str:
    """3600 → "every hour", 300 → "every 5 minutes", as a schedule says it."""
    return "—" if value is None else describe_every(int(value))
