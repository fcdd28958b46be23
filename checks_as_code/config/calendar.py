"""A namespace's ``calendar`` (whose public holidays, its own days off) and ``retention_days``."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError

from checkers.models import BusinessCalendar, Retention
from checks_as_code.config.context import Context
from checks_as_code.config.document import Path
from checks_as_code.config.plan import Action
from checks_as_code.config.schema import TEXT, Schema, Type, read
from checks_as_code.config.store import report, upsert, upsert_setting

DAYS = Type(
    "a list of dates such as [2026-12-24, 2026-12-31]",
    lambda value: isinstance(value, list) and all(isinstance(day, str | datetime.date) for day in value),
)
CALENDAR = Schema("a calendar", {"country": TEXT, "subdivision": TEXT, "days_off": DAYS}, required=())
# Model field → the file's key.
CALENDAR_KEYS = {"country": "country", "subdivision": "subdivision", "days_off": "days_off"}


def apply_calendar(ctx: Context, path: Path, namespace: Any, value: Any) -> tuple[str, ...]:
    """Upsert the namespace's business calendar; the keys that changed, as the namespace's."""
    path = (*path, "calendar")
    fields = read(ctx, path, value, CALENDAR)
    if fields is None:
        return ()
    days = [day.isoformat() if isinstance(day, datetime.date) else day for day in fields.get("days_off", [])]
    values = {
        "country": fields.get("country", ""),
        "subdivision": fields.get("subdivision", ""),
        "days_off": "\n".join(days),
    }
    return upsert_setting(ctx, path, BusinessCalendar, namespace, values, CALENDAR_KEYS)


def export_calendar(namespace: Any) -> dict[str, Any] | None:
    """The namespace's calendar as the file writes it; None when it has none."""
    calendar = BusinessCalendar.objects.filter(namespace=namespace).first()
    if calendar is None:
        return None
    data: dict[str, Any] = {
        key: getattr(calendar, key) for key in ("country", "subdivision") if getattr(calendar, key)
    }
    if calendar.days_off:
        data["days_off"] = calendar.days_off.split()
    return data


def apply_retention(ctx: Context, path: Path, namespace: Any, days: int) -> tuple[str, ...]:
    """Upsert how many days the namespace keeps its runs; the key, when it changed."""
    result = upsert(
        ctx, path, Retention, {"namespace": namespace}, {"days": days}, {"days": "retention_days"}
    )
    if result is None or result[1] == Action.UNCHANGED:
        return ()
    return ("retention_days",)


def check_retention(ctx: Context, path: Path, namespace: Any) -> None:
    """Once the namespace's checkers are in, its retention (the file's, the stored one or the
    default) must still keep the history their rules read (``Retention.clean``): a first import
    creates the two together."""
    retention = Retention.objects.filter(namespace=namespace).first() or Retention(namespace=namespace)
    try:
        retention.clean()
    except ValidationError as exc:
        report(ctx, path, exc, {"days": "retention_days"})


def export_retention(namespace: Any) -> int | None:
    days = Retention.objects.filter(namespace=namespace).values_list("days", flat=True).first()
    return days if days not in (None, Retention.DEFAULT_DAYS) else None
