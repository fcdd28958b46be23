"""Rules on history: a figure held against its own past, and replays of rules over that past.

Every run that measured (green or red; an error run measured nothing to trust) keeps its
figures in ``CheckRun.figures``. A rule on history reads them back: the previous run's
figure for a change rule, a window of past figures for an anomaly band, optionally only
those of the same weekday or hour of day in the checker's time zone. Until the window holds
``least(rule)`` figures the rule is learning: green, with a message that says so, never red.

The judgement is a pure function of the figure, the time and the past (``judge``), so a
backtest replays it over stored runs exactly as the runs themselves would have judged.
"""

from __future__ import annotations

import bisect
import decimal
import math
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from django.db.models.functions import Coalesce

from checkers.calendars import Calendar
from checkers.models import BusinessCalendar, Checker, CheckRun, RunStatus
from checkers.rules import ASSERTIONS, DEFAULT_K, DEFAULT_RUNS, Band, Compare, Days, Operator, Rule, Season
from checkers.sandbox.outcome import Level, Message

# Runs read at most for one checker's history: a window of days on a checker that runs every
# minute is cut here (about three and a half days of minutes).
SCAN = 5000
# The MAD of a normal sample times this estimates its standard deviation, so k means the same
# in both kinds of band.
MAD_SCALE = 1.4826
MEAN_AD_SCALE = 1.253314


@dataclass(frozen=True)
class Point:
    """One past figure: when its run was due (or started), and the number."""

    at: datetime
    value: float


def least(rule: Rule) -> int:
    """Past figures a rule needs before it may fire: its ``min_history``, and at least the one
    a change needs or the two a spread needs."""
    floor = 2 if rule.compare == Compare.BAND else 1
    return max(rule.min_history or 0, floor)


def _scan(rule: Rule) -> int:
    """Runs to read for this rule: only as many as it can use."""
    if rule.compare != Compare.BAND:
        return least(rule)
    if rule.seasonal or rule.history_days:
        return SCAN
    return max(rule.history_runs or DEFAULT_RUNS, least(rule))


def load(
    checker: Checker, rules: Sequence[Rule], before: datetime | None = None, limit: int | None = None
) -> dict[str, list[Point]]:
    """The stored figures the rules measure, oldest first, from one query on the checker's last
    runs (``limit``, or as many as the rules can use)."""
    names = {rule.describe() for rule in rules}
    if not names:
        return {}
    runs = CheckRun.objects.filter(checker=checker, status__in=(RunStatus.GREEN, RunStatus.RED))
    runs = runs.filter(finished__isnull=False)
    if before is not None:
        runs = runs.filter(finished__lt=before)
    limit = limit or max(_scan(rule) for rule in rules)
    # One timestamp a row, not three: parsing them is most of the cost of a long read.
    at = Coalesce("scheduled_for", "started", "finished")
    rows = runs.order_by("-finished").values_list(at, "figures")[:limit]
    found: dict[str, list[Point]] = {name: [] for name in names}
    for at, figures in reversed(rows):
        for name, value in (figures or {}).items():
            if name in found and isinstance(value, int | float):
                found[name].append(Point(at, float(value)))
    return {name: sorted(points, key=lambda point: point.at) for name, points in found.items()}


def load_reaching(
    checker: Checker,
    rules: Sequence[Rule],
    before: datetime | None,
    calendar: Calendar | None,
    extra: int = 0,
) -> dict[str, list[Point]]:
    """``load``, reading further back while a business-days rule has fewer business-day runs
    than it uses (``extra`` more): a weekday needs the last few runs, a Monday morning of a
    minutely checker the whole weekend's, up to ``SCAN``."""
    limit = min(SCAN, extra + max(_scan(rule) for rule in rules))
    while True:
        pasts = load(checker, rules, before=before, limit=limit)
        if limit >= SCAN or all(
            _enough(rule, pasts.get(rule.describe(), []), limit, extra, checker.zone, calendar)
            for rule in rules
        ):
            return pasts
        limit = min(limit * 8, SCAN)


def _enough(
    rule: Rule, points: Sequence[Point], limit: int, extra: int, zone: tzinfo, calendar: Calendar | None
) -> bool:
    if rule.days != Days.BUSINESS or len(points) < limit:  # not skipping days off, or all read
        return True
    return sum(_feeds(rule, point, zone, calendar) for point in points) >= extra + _scan(rule)


def judge_for(checker: Checker, rules: Sequence[Rule], at: datetime) -> Callable[[Rule, Any], Message] | None:
    """The judge of a run at ``at``: with its rules' pasts and the namespace's business calendar,
    or None when no rule needs either."""
    on_history = [rule for rule in rules if rule.on_history]
    by_days = any(rule.days for rule in rules)
    if not (on_history or by_days):
        return None
    calendar = BusinessCalendar.calendar_of(checker.namespace_id) if by_days else None
    zone = checker.zone
    if calendar and calendar.day_off(at.astimezone(zone).date()):  # business-days rules are not checked
        on_history = [rule for rule in on_history if rule.days != Days.BUSINESS]
    pasts = load_reaching(checker, on_history, at, calendar) if checker.pk and on_history else {}
    return lambda rule, measured: judge(rule, measured, at, pasts.get(rule.describe(), []), zone, calendar)


def judge(
    rule: Rule,
    measured: Any,
    at: datetime,
    past: Sequence[Point],
    zone: tzinfo,
    calendar: Calendar | None = None,
) -> Message:
    """Ok, fail or learning for the figure measured at ``at``, given the figures before it; on a
    day off of ``calendar``, skipped or judged with the rule's other bound."""
    if rule.days:
        day_off = (calendar or Calendar()).day_off(at.astimezone(zone).date())
        if day_off and rule.days == Days.BUSINESS:
            return Message(Level.OK, f"{_label(rule)} (not checked: {day_off} is not a business day)")
        if day_off:
            message = judge(rule.off_days(), measured, at, past, zone)
            return Message(message.level, f"{message.text[:-1]}; {day_off}, not a business day)")
    if not rule.on_history:
        return rule.judge(measured)
    value = _number(rule, measured)
    past = history(rule, at, past, zone, calendar)
    if rule.compare == Compare.BAND:
        return _judge_band(rule, value, window(rule, at, past, zone), zone)
    return _judge_change(rule, value, past)


def history(
    rule: Rule, at: datetime, past: Sequence[Point], zone: tzinfo, calendar: Calendar | None = None
) -> list[Point]:
    """The past a rule reads at ``at``: the points before it, and for a rule that holds on
    business days only, only those of business days (Monday compares with Friday, not Sunday)."""
    return [point for point in past if point.at < at and _feeds(rule, point, zone, calendar)]


def _feeds(rule: Rule, point: Point, zone: tzinfo, calendar: Calendar | None) -> bool:
    if rule.days != Days.BUSINESS:
        return True
    return (calendar or Calendar()).is_business_day(point.at.astimezone(zone).date())


def expected(
    rule: Rule, at: datetime, past: Sequence[Point], zone: tzinfo, calendar: Calendar | None = None
) -> tuple[float, float] | None:
    """The figures the rule accepts at ``at`` from its past, as ``judge`` holds them: a band's
    ends, or the previous figure moved by the allowed change (an open side is infinite). None
    when it judges nothing there: learning, or a day off of a business-days rule."""
    if rule.days and (calendar or Calendar()).day_off(at.astimezone(zone).date()):
        if rule.days == Days.BUSINESS:
            return None
        rule = rule.off_days()
    past = history(rule, at, past, zone, calendar)
    if rule.compare == Compare.BAND:
        drawn = window(rule, at, past, zone)
        return band(rule, [point.value for point in drawn]) if len(drawn) >= least(rule) else None
    if len(past) < least(rule):
        return None
    previous = past[-1].value
    unit = abs(previous) / 100 if rule.compare == Compare.CHANGE_PCT else 1.0
    # An open side stays open (from 0, any change in % is infinite: 0 times it is no figure).
    low, high = (end if math.isinf(end) else previous + end * unit for end in _change_span(rule))
    return low, high


def _change_span(rule: Rule) -> tuple[float, float]:
    """The changes a change rule allows, from least to most (its operator's open side infinite)."""
    assert rule.value is not None, "a validated rule has its value"
    if rule.op == Operator.BETWEEN:
        assert rule.high is not None, "a validated between has its upper bound"
        return rule.value, rule.high
    if rule.op in (Operator.LT, Operator.LE):
        return -math.inf, rule.value
    if rule.op in (Operator.GT, Operator.GE):
        return rule.value, math.inf
    if rule.op == Operator.EQ:
        return rule.value, rule.value
    return -math.inf, math.inf


def expected_words(rule: Rule) -> str:
    """What a chart shades for the rule: "the band mean ± 3 sd of the last 30 runs"."""
    if rule.compare == Compare.BAND:
        return f"the band {rule.band_words()} {rule.history_words()}"
    unit = " %" if rule.compare == Compare.CHANGE_PCT else ""
    low, high = (f"{shown(bound)}{unit}" for bound in (rule.value or 0, rule.high or 0))
    claim = f"between {low} and {high}" if rule.op == Operator.BETWEEN else f"{rule.op} {low}"
    return f"the change allowed since the previous run ({claim})"


def _number(rule: Rule, measured: Any) -> float:
    """The figure as a float; a rule on history compares numbers only."""
    if measured is None and rule.metric == "sum":
        measured = 0
    if measured is None:
        raise rule.error(f"the {rule.describe()} has no value to compare with its history")
    if isinstance(measured, bool) or not isinstance(measured, int | float | decimal.Decimal):
        raise rule.error(f"{measured!r} is not a number: a rule on history compares numbers")
    value = float(measured)
    if not math.isfinite(value):
        raise rule.error(f"{measured!r} is not a finite number")
    return value


def _learning(rule: Rule, value: float, have: int) -> Message:
    need = least(rule)
    return Message(Level.OK, f"{_label(rule)} ({shown(value)}; learning: {have} of {need} run{_s(need)})")


def _judge_change(rule: Rule, value: float, past: Sequence[Point]) -> Message:
    if len(past) < least(rule):
        return _learning(rule, value, len(past))
    previous = past[-1].value
    if rule.compare == Compare.CHANGE_PCT:
        if previous == 0:
            change = 0.0 if value == 0 else math.copysign(math.inf, value)
        else:
            change = (value - previous) / abs(previous) * 100
        unit = " %"
    else:
        change, unit = value - previous, ""
    assert rule.value is not None, "a validated rule has its value"
    if rule.op == Operator.BETWEEN:
        assert rule.high is not None, "a validated between has its upper bound"
        held = rule.value <= change <= rule.high
        claim = f"between {shown(rule.value)}{unit} and {shown(rule.high)}{unit}"
    else:
        held = ASSERTIONS[Operator(rule.op)][1](change, rule.value)
        claim = f"{rule.op} {shown(rule.value)}{unit}"
    moved = f"{shown(value)}: {signed(change)}{unit} since the previous run's {shown(previous)}"
    text = f"{moved}, {claim}" if held else f"{moved}, expected {claim}"
    return Message(Level.OK if held else Level.FAIL, f"{_label(rule)} ({text})")


def window(rule: Rule, at: datetime, past: Sequence[Point], zone: tzinfo) -> list[Point]:
    """The past a band is drawn from: the same season, within the last days, the last runs."""
    kept = list(past)
    if rule.history_days:
        cutoff = at - timedelta(days=rule.history_days)
        kept = [point for point in kept if point.at >= cutoff]
    if rule.seasonal:
        season = _season(rule, at, zone)
        kept = [point for point in kept if _season(rule, point.at, zone) == season]
    runs = rule.history_runs or (None if rule.history_days else DEFAULT_RUNS)
    return kept[-runs:] if runs else kept


def band(rule: Rule, values: Sequence[float]) -> tuple[float, float]:
    """Low and high ends of the band the values draw (inclusive)."""
    k = rule.k if rule.k is not None else DEFAULT_K
    if rule.band == Band.MAD:
        center = statistics.median(values)
        deviations = [abs(value - center) for value in values]
        spread = MAD_SCALE * statistics.median(deviations)
        if spread == 0:
            # More than half the history sits on the median: the mean absolute deviation
            # (scaled to match a standard deviation, as in Iglewicz and Hoaglin's modified
            # z-score) still sees the rest, where a MAD of 0 would fire on any change.
            spread = MEAN_AD_SCALE * statistics.fmean(deviations)
    else:
        center = statistics.fmean(values)
        # The sample standard deviation in floats: statistics.stdev is exact, in fractions,
        # and a hundred times slower on a window of days.
        spread = math.sqrt(math.fsum((value - center) ** 2 for value in values) / (len(values) - 1))
    return center - k * spread, center + k * spread


def _judge_band(rule: Rule, value: float, past: Sequence[Point], zone: tzinfo) -> Message:
    if len(past) < least(rule):
        return _learning(rule, value, len(past))
    low, high = band(rule, [point.value for point in past])
    held = low <= value <= high
    where = f"{span(low, high)} from {provenance(rule, past, zone)}"
    text = f"{shown(value)}, within {where}" if held else f"{shown(value)}, expected {where}"
    return Message(Level.OK if held else Level.FAIL, f"{_label(rule)} ({text})")


def provenance(rule: Rule, past: Sequence[Point], zone: tzinfo) -> str:
    """The history in words: "the last 4 Mondays at 09:00", "the last 12 runs (7 days)"."""
    count, last = len(past), past[-1].at.astimezone(zone)
    hour = f" at {last:%H}:00" if rule.seasonal in (Season.HOUR, Season.WEEKDAY_HOUR) else ""
    if rule.seasonal in (Season.WEEKDAY, Season.WEEKDAY_HOUR):
        day, dates = f"{last:%A}", len({point.at.astimezone(zone).date() for point in past})
        if dates == count:
            text = f"the last {count} {day}{_s(count)}{hour}"
        else:
            text = f"{count} runs on the last {dates} {day}{_s(dates)}{hour}"
    else:
        text = f"the last {count} run{_s(count)}{hour}"
    if rule.history_days:
        text += f" ({rule.history_days} day{_s(rule.history_days)})"
    return text


def _label(rule: Rule) -> str:
    return rule.message or rule.describe()


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def shown(value: float) -> str:
    """A number as a person reads it in a band: 1,020, 12.5, 0.00123."""
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == int(value) or abs(value) >= 100:
        return f"{round(value):,}"
    if abs(value) >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def span(low: float, high: float) -> str:
    """Both ends of a band at one precision, finer as the band narrows: 968–1,052, 95.55–104.45."""
    width = high - low
    places = 0 if width >= 100 else 1 if width >= 10 else 2
    ends = [f"{end:,.{places}f}" for end in (low, high)]
    while places and all(end.endswith("0") for end in ends):
        ends, places = [end[:-1] for end in ends], places - 1
    ends = [end.rstrip(".") if not places else end for end in ends]
    return "\N{EN DASH}".join(ends)


def signed(value: float) -> str:
    return shown(value) if value < 0 else f"+{shown(value)}"


@dataclass(frozen=True)
class Replay:
    """One stored run as a rule would have judged it."""

    at: datetime
    message: Message

    @property
    def fired(self) -> bool:
        return self.message.level == Level.FAIL


def backtest(checker: Checker, rule: Rule, days: int, now: datetime) -> list[Replay]:
    """The rule replayed over its figure's stored runs of the last ``days`` days, oldest first;
    each judged with the history before it, as a run then would have. Nothing is written."""
    if not checker.pk:
        return []
    points = load(checker, [rule], before=now, limit=SCAN).get(rule.describe(), [])
    calendar = BusinessCalendar.calendar_of(checker.namespace_id) if rule.days else None
    return replay(rule, points, now - timedelta(days=days), checker.zone, calendar)


def replay(
    rule: Rule, points: Sequence[Point], since: datetime, zone: tzinfo, calendar: Calendar | None = None
) -> list[Replay]:
    """Judge each point from ``since`` on with the points before it."""
    return [
        Replay(point.at, judge(rule, point.value, point.at, past, zone, calendar))
        for point, past in _walk(rule, points, since, zone, calendar)
    ]


def expected_over(
    rule: Rule, points: Sequence[Point], since: datetime, zone: tzinfo, calendar: Calendar | None = None
) -> dict[datetime, tuple[float, float]]:
    """What the rule accepted at each point from ``since`` on (``expected``), by the point's time;
    a point it judged nothing at (learning, a day off) is left out."""
    return {
        point.at: span
        for point, past in _walk(rule, points, since, zone, calendar)
        if (span := expected(rule, point.at, past, zone, calendar)) is not None
    }


def _walk(
    rule: Rule, points: Sequence[Point], since: datetime, zone: tzinfo, calendar: Calendar | None
) -> Iterator[tuple[Point, list[Point]]]:
    """Each point from ``since`` on with the past the rule reads there (only as many points as
    it can use, so a replay of thousands of runs stays linear when the window is a count)."""
    seasons: dict[tuple[int, int], tuple[list[Point], list[datetime]]] = {}
    for point in points:
        season, moments = seasons.setdefault(_season(rule, point.at, zone), ([], []))
        if point.at >= since:
            yield point, _recent(rule, season, moments, point.at)
        if _feeds(rule, point, zone, calendar):
            season.append(point)
            moments.append(point.at)


def _season(rule: Rule, at: datetime, zone: tzinfo) -> tuple[int, int]:
    """The weekday and hour a seasonal rule compares (-1: any)."""
    if not rule.seasonal:
        return (-1, -1)
    local = at.astimezone(zone)
    weekday = local.weekday() if rule.seasonal in (Season.WEEKDAY, Season.WEEKDAY_HOUR) else -1
    return weekday, local.hour if rule.seasonal in (Season.HOUR, Season.WEEKDAY_HOUR) else -1


def _recent(rule: Rule, season: list[Point], moments: list[datetime], at: datetime) -> list[Point]:
    """The tail of a season's points the rule can use: a change needs its last few, a band its
    window's count, or the days' worth (``window`` then cuts exactly)."""
    if rule.compare != Compare.BAND:
        return season[-least(rule) :]
    if rule.history_days:
        return season[bisect.bisect_left(moments, at - timedelta(days=rule.history_days)) :]
    return season[-max(rule.history_runs or DEFAULT_RUNS, least(rule)) :]


@dataclass(frozen=True)
class Backtest:
    """A rule replayed over the last ``days`` days of its figure: "would have fired N times"."""

    rule: Rule
    days: int
    replays: list[Replay]

    @property
    def fired(self) -> list[Replay]:
        return [replay for replay in self.replays if replay.fired]

    def headline(self) -> str:
        times = len(self.fired)
        runs = len(self.replays)
        return (
            f"would have fired {times} time{_s(times)} in the last {self.days} day{_s(self.days)} "
            f"({runs} stored run{_s(runs)})"
        )

    def to_dict(self, zone: tzinfo) -> dict[str, Any]:
        return {
            "rule": self.rule.sentence(),
            "days": self.days,
            "runs": len(self.replays),
            "fired": len(self.fired),
            "when": [
                {"at": replay.at.astimezone(zone).isoformat(), "message": replay.message.text}
                for replay in self.fired
            ],
        }


def expected_for(
    checker: Checker, rule: Rule, runs: Sequence[CheckRun]
) -> dict[CheckRun, tuple[float, float]]:
    """What the rule accepted at each of these runs of the checker (oldest first), as the runs
    judged them, for the checker page's chart; a run it judged nothing at is left out."""
    moments = {run: at for run in runs if (at := run.scheduled_for or run.started or run.finished)}
    if not moments:
        return {}
    calendar = BusinessCalendar.calendar_of(checker.namespace_id) if rule.days else None
    points = load_reaching(checker, [rule], None, calendar, extra=len(runs)).get(rule.describe(), [])
    spans = expected_over(rule, points, min(moments.values()), checker.zone, calendar)
    return {run: spans[at] for run, at in moments.items() if at in spans}


def backtest_rules(checker: Checker, rules: Sequence[Rule], days: int, now: datetime) -> list[Backtest]:
    """Every rule of a rule checker (saved, or as typed in the editor) replayed; nothing is written."""
    return [Backtest(rule, days, backtest(checker, rule, days, now)) for rule in rules]
