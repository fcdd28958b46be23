"""The dashboard's rows: every checker of a namespace with its state, markers and recent runs.

Four queries whatever the number of checkers: the checkers (with state, policy and runbook),
their last 30 finished runs (one window query), and the open maintenance window.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from urllib.parse import urlencode

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.http import QueryDict
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import SafeString

from alarms.models import MaintenanceWindow, username
from checkers.models import Checker, CheckRun, RunStatus, Severity, State
from health.late import overdue
from health.status import ago
from namespaces.models import Namespace
from pages.charts import sparkline

SPARK_RUNS = 30
# Worst first: the dashboard's sort and its count tiles.
STATE_ORDER: dict[str, int] = {State.RED: 0, State.ERROR: 1, State.UNKNOWN: 2, State.GREEN: 3}
STATE_CHOICES = [(state.value, state.label) for state in sorted(State, key=STATE_ORDER.__getitem__)]
# Late is not a fifth state: a late checker keeps its alarm state (a green checker whose runs
# stopped is still last seen green), so ``?state=late`` filters the rows with a late marker and
# its tile counts them, beside (not out of) the four state tiles.
LATE = "late"
FILTER_CHOICES = [*STATE_CHOICES, (LATE, "Late")]


@dataclass(frozen=True)
class Marker:
    """A silence or pause shown next to a checker's state: what, and the whole story on hover."""

    key: str
    label: str
    detail: str


def _at(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "j M H:i")


def markers_for(
    checker: Checker, window: tuple[MaintenanceWindow, datetime] | None, now: datetime
) -> list[Marker]:
    state = getattr(checker, "alarm_state", None)
    policy = getattr(checker, "alarm_policy", None)
    found = []
    if policy is not None and not policy.enabled:
        reason = f": {policy.disabled_reason}" if policy.disabled_reason else ""
        found.append(
            Marker("disabled", "alarming off", f"Alarming disabled by {username(policy.disabled_by)}{reason}")
        )
    if window is not None:
        found.append(
            Marker(
                "maintenance", "maintenance", f"Maintenance window {window[0].name} until {_at(window[1])}"
            )
        )
    if state is not None and state.muted_until and state.muted_until > now:
        reason = f": {state.mute_reason}" if state.mute_reason else ""
        found.append(
            Marker(
                "muted",
                "muted",
                f"Muted until {_at(state.muted_until)} by {username(state.muted_by)}{reason}",
            )
        )
    if state is not None and state.acknowledged_at:
        reason = f": {state.ack_reason}" if state.ack_reason else ""
        found.append(Marker("acked", "acked", f"Acknowledged by {username(state.acknowledged_by)}{reason}"))
    if not checker.enabled:
        found.append(Marker("paused", "not scheduled", "Runs only when someone presses Run now"))
    if (late := overdue(checker, now)) is not None:
        detail = f"Due at {_at(now - late)}, no run has started for {ago(late.total_seconds())}"
        found.append(Marker("late", f"late {ago(late.total_seconds())}", detail))
    return found


@dataclass
class Row:
    checker: Checker
    state: str
    markers: list[Marker]
    runs: list[CheckRun] = field(default_factory=list)

    @property
    def last_run(self) -> CheckRun | None:
        return self.runs[-1] if self.runs else None

    @property
    def sparkline(self) -> SafeString:
        return sparkline(self.runs)

    @property
    def late(self) -> bool:
        return any(marker.key == LATE for marker in self.markers)

    @property
    def silenced(self) -> bool:
        return any(marker.key in {"disabled", "maintenance", "muted", "acked"} for marker in self.markers)

    def matches(self, text: str) -> bool:
        haystack = " ".join(
            [self.checker.name, self.checker.slug, self.checker.description, self.checker.tags]
        )
        return text.lower() in haystack.lower()


def recent_runs(checkers: Iterable[Checker], limit: int = SPARK_RUNS) -> dict[int, list[CheckRun]]:
    """The last ``limit`` finished runs of each checker, oldest first, in one query."""
    ranked = (
        CheckRun.objects.filter(checker__in=list(checkers), status__in=RunStatus.finished())
        .annotate(position=Window(RowNumber(), partition_by=[F("checker_id")], order_by=F("finished").desc()))
        .filter(position__lte=limit)
        .only("uuid", "checker_id", "status", "finished", "duration_ms", "trigger")
        .order_by("checker_id", "finished")
    )
    by_checker: dict[int, list[CheckRun]] = defaultdict(list)
    for run in ranked:
        by_checker[run.checker_id].append(run)
    return by_checker


def checker_rows(namespace: Namespace, now: datetime | None = None) -> list[Row]:
    now = now or timezone.now()
    checkers = list(
        namespace.checkers.select_related(
            "runbook", "alarm_state__acknowledged_by", "alarm_state__muted_by", "alarm_policy__disabled_by"
        )
    )
    window = MaintenanceWindow.open_in(namespace.pk, now)
    runs = recent_runs(checkers)
    rows = [
        Row(
            checker=checker,
            state=getattr(getattr(checker, "alarm_state", None), "state", None) or State.UNKNOWN,
            markers=markers_for(checker, window, now),
            runs=runs.get(checker.pk, []),
        )
        for checker in checkers
    ]
    return sorted(rows, key=lambda row: (STATE_ORDER.get(row.state, 9), row.checker.name.lower()))


@dataclass(frozen=True)
class Filters:
    state: str = ""
    severity: str = ""
    tag: str = ""
    q: str = ""

    @classmethod
    def from_query(cls, query: QueryDict) -> Filters:
        state = query.get("state", "")
        severity = query.get("severity", "")
        return cls(
            state=state if state in STATE_ORDER or state == LATE else "",
            severity=severity if severity in Severity.values else "",
            tag=query.get("tag", "").strip().lower(),
            q=query.get("q", "").strip()[:200],
        )

    @property
    def active(self) -> bool:
        return any((self.state, self.severity, self.tag, self.q))

    def any_state(self) -> Filters:
        """The same search, severity and tag over every state: what the count tiles count."""
        return replace(self, state="")

    def query_for(self, state: str) -> str:
        """The query string of a count tile: this search, severity and tag, and ``state``."""
        return urlencode({name: value for name, value in asdict(replace(self, state=state)).items() if value})

    def state_matches(self, row: Row) -> bool:
        return not self.state or row.state == self.state or (self.state == LATE and row.late)

    def apply(self, rows: list[Row]) -> list[Row]:
        return [
            row
            for row in rows
            if self.state_matches(row)
            and (not self.severity or row.checker.severity == self.severity)
            and (not self.tag or self.tag in row.checker.tag_list())
            and (not self.q or row.matches(self.q))
        ]


def state_counts(rows: list[Row], filters: Filters) -> list[tuple[str, str, int, str]]:
    """Each state's tile, then the late tile: its label, how many checkers the search, severity
    and tag leave in it, and the query that lists them. A late checker counts in its state's
    tile and in the late one."""
    shown = filters.any_state().apply(rows)
    counts = Counter(row.state for row in shown)
    counts[LATE] = sum(row.late for row in shown)
    return [(state, label, counts[state], filters.query_for(state)) for state, label in FILTER_CHOICES]


def all_tags(rows: list[Row]) -> list[str]:
    return sorted({tag for row in rows for tag in row.checker.tag_list()})
