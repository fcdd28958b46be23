"""When a checker runs: a cron expression in the checker's time zone, or a fixed interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter

MIN_INTERVAL_S = 10
# Any fixed moment will do: a cron has no year, so one that ever fires fires after it.
_SOME_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Schedule:
    cron: str = ""
    every: int | None = None

    def next_after(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The first run strictly after ``moment``; cron fields are read in ``zone`` (DST included)."""
        if self.every:
            return moment + timedelta(seconds=self.every)
        local = croniter(self.cron, moment.astimezone(zone)).get_next(datetime)
        return local.astimezone(UTC)

    def following(self, due_at: datetime, now: datetime, zone: ZoneInfo) -> datetime:
        """The slot after the one due at ``due_at`` that is still ahead of ``now``.

        An interval keeps its grid (``due_at`` plus whole intervals), so a run dispatched a
        second late does not push every later slot a second; slots missed while nothing ran
        are skipped, as a cron's are.
        """
        if self.every:
            missed = max(0, int((now - due_at).total_seconds() // self.every))
            return due_at + timedelta(seconds=self.every * (missed + 1))
        return self.next_after(max(now, due_at), zone)

    def as_config(self) -> str | dict[str, int | None]:
        """The checks-as-code form: the cron string, or ``{"every": seconds}``."""
        return self.cron if self.cron else {"every": self.every}


def fires(cron: str) -> bool:
    """Whether a valid cron ever matches a date: ``0 0 30 2 *`` parses, and never does."""
    try:
        croniter(cron, _SOME_MOMENT).get_next(datetime)
    except CroniterBadDateError:
        return False
    return True


def parse(cron: str = "", every: int | None = None) -> Schedule | None:
    """A schedule from its two fields, or None when neither is set; ``ValueError`` says what is wrong."""
    cron = (cron or "").strip()
    if cron and every:
        raise ValueError("Set either a cron schedule or an interval, not both.")
    if cron:
        if len(cron.split()) != 5 or not croniter.is_valid(cron):
            raise ValueError(
                f"{cron!r} is not a cron schedule: use five fields, minute hour day month weekday, "
                "for example */5 * * * *"
            )
        if not fires(cron):
            raise ValueError(
                f"{cron!r} never fires: no date has that day of the month in that month "
                "(February has no 30th); pick a day every chosen month has"
            )
        return Schedule(cron=cron)
    if every is not None:
        if every < MIN_INTERVAL_S:
            raise ValueError(f"An interval of {every} s is too short: at least {MIN_INTERVAL_S} s.")
        return Schedule(every=every)
    return None
