"""Words for people: schedules as sentences, and where in the source an error is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from checkers import schedules

UNITS = [(86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")]
# "SyntaxError at line N" (the Python runner), "<anon>:LINE:COL" (wat2wasm), and the last
# 'File "<checker>", line N' of a traceback, which is where the checker's own code failed.
SYNTAX_LINE = re.compile(r"\bat line (\d+)")
WAT_LINE = re.compile(r"<anon>:(\d+):(\d+)")
TRACEBACK_LINE = re.compile(r'File "<checker>", line (\d+)')


def _in_units(seconds: int) -> tuple[int, str]:
    """The largest unit that divides ``seconds`` exactly: 3600 → (1, "hour"), 90 → (90, "second")."""
    for size, unit in UNITS:
        if seconds and seconds % size == 0:
            return seconds // size, unit
    return seconds, "second"


def describe_seconds(seconds: int) -> str:
    """A length of time for people: "1 hour", "5 minutes", "90 seconds"."""
    count, unit = _in_units(seconds)
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def describe_every(seconds: int) -> str:
    """A repetition, in the schedule's words: "every hour", "every 5 minutes"."""
    count, unit = _in_units(seconds)
    return f"every {unit}" if count == 1 else f"every {count} {unit}s"


def describe_cron(cron: str) -> str:
    from cron_descriptor import ExpressionDescriptor, FormatException, Options  # only pages say schedules

    options = Options()
    options.use_24hour_time_format = True
    try:
        text = ExpressionDescriptor(cron, options).get_description()
    except (FormatException, ValueError, KeyError, IndexError):
        return cron
    return text[:1].lower() + text[1:]


@dataclass(frozen=True)
class SchedulePreview:
    ok: bool
    text: str
    next_run: datetime | None = None


def preview_schedule(cron: str, every: int | None, zone_name: str) -> SchedulePreview:
    """ "Every 5 minutes, next at 10:05 (Europe/Berlin)", or what is wrong with the input."""
    try:
        schedule = schedules.parse(cron, every)
    except ValueError as exc:
        return SchedulePreview(False, str(exc))
    if schedule is None:
        return SchedulePreview(False, "Not scheduled: set a cron schedule or an interval.")
    try:
        zone = ZoneInfo(zone_name or "UTC")
    except (ValueError, KeyError):
        return SchedulePreview(False, f"{zone_name!r} is not a known time zone.")
    following = schedule.next_after(timezone.now(), zone)
    words = describe_cron(schedule.cron) if schedule.cron else describe_every(schedule.every or 0)
    local = following.astimezone(zone)
    day = "" if local.date() == timezone.now().astimezone(zone).date() else f"{local:%a %d %b} "
    return SchedulePreview(
        True, f"{words[:1].upper()}{words[1:]}, next at {day}{local:%H:%M} ({zone.key})", following
    )


@dataclass(frozen=True)
class SourcePosition:
    line: int
    column: int | None = None

    def __str__(self) -> str:
        return f"line {self.line}" + (f", column {self.column}" if self.column else "")


def error_position(detail: str) -> SourcePosition | None:
    """Where a Python or WAT error points in the checker's source, when it says."""
    if match := WAT_LINE.search(detail):
        return SourcePosition(int(match.group(1)), int(match.group(2)))
    if match := SYNTAX_LINE.search(detail):
        return SourcePosition(int(match.group(1)))
    if lines := TRACEBACK_LINE.findall(detail):
        return SourcePosition(int(lines[-1]))
    return None
