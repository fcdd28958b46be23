"""When a checker runs: a cron expression in the checker's time zone, or a fixed interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

MIN_INTERVAL_S = 10


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

    def as_config(self) -> str | dict[str, int]:
        """The checks-as-code form: the cron string, or ``{"every": seconds}``."""
        return self.cron if self.cron else {"every": self.every}


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
        return Schedule(cron=cron)
    if every is not None:
        if every < MIN_INTERVAL_S:
            raise ValueError(f"An interval of {every} s is too short: at least {MIN_INTERVAL_S} s.")
        return Schedule(every=every)
    return None
