"""Server-rendered SVG charts: a run sparkline, a duration chart and a state timeline.

They are drawn here rather than in the browser so the dashboard reads at a glance with no
script, in any screenshot and on a phone, and each carries a text summary for screen readers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from checkers.models import CheckRun, State


def _summary(runs: Sequence[CheckRun]) -> str:
    counts = Counter(run.status for run in runs)
    parts = [f"{counts[state]} {state}" for state in State if counts[state]]
    return f"Last {len(runs)} run{'s' if len(runs) != 1 else ''}: {', '.join(parts) or 'none'}"


def sparkline(runs: Sequence[CheckRun], width: int = 124, height: int = 28) -> SafeString:
    """One bar per run, oldest first: its colour is the outcome, its height the duration."""
    runs = list(runs)
    label = _summary(runs)
    if not runs:
        return format_html(
            '<svg class="sparkline" data-testid="sparkline" role="img" aria-label="{}" width="{}" '
            'height="{}" viewBox="0 0 {} {}"><title>{}</title><line x1="0" y1="{}" x2="{}" y2="{}" '
            'class="spark-empty"/></svg>',
            "No runs yet",
            width,
            height,
            width,
            height,
            "No runs yet",
            height - 1,
            width,
            height - 1,
        )
    slot = width / 30
    longest = max((run.duration_ms or 0) for run in runs) or 1
    bars = []
    for index, run in enumerate(runs):
        share = (run.duration_ms or 0) / longest
        bar_height = max(height * 0.3, height * share)
        when = timezone.localtime(run.finished).strftime("%Y-%m-%d %H:%M") if run.finished else ""
        bars.append(
            (
                f"{index * slot + 0.5:.1f}",
                f"{height - bar_height:.1f}",
                f"{max(slot - 1.5, 1):.1f}",
                f"{bar_height:.1f}",
                run.status,
                f"{run.status} {when} {run.duration_ms or 0:.0f} ms",
            )
        )
    body = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" rx="1" class="spark-{}"><title>{}</title></rect>',
        bars,
    )
    return format_html(
        '<svg class="sparkline" data-testid="sparkline" role="img" aria-label="{}" width="{}" height="{}" '
        'viewBox="0 0 {} {}"><title>{}</title>{}</svg>',
        label,
        width,
        height,
        width,
        height,
        label,
        body,
    )


def _fmt_ms(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def duration_chart(runs: Sequence[CheckRun], width: int = 640, height: int = 160) -> SafeString:
    """Durations of recent runs, oldest left, each point coloured by its outcome."""
    timed = [(run, run.duration_ms) for run in runs if run.duration_ms is not None]
    if len(timed) < 2:
        return format_html('<p class="text-body-secondary small mb-0">{}</p>', "Too few runs to chart yet.")
    left, right, top, bottom = 48, 8, 10, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    longest = max(duration for _, duration in timed) or 1
    step = plot_w / (len(timed) - 1)
    path, dots = _line(
        (
            left + i * step,
            top + plot_h * (1 - duration / longest),
            run,
            f"{run.status}, {_fmt_ms(duration)}, {_when(run.finished)}",
        )
        for i, (run, duration) in enumerate(timed)
    )
    label = f"Duration of the last {len(timed)} runs, longest {_fmt_ms(longest)}"
    return format_html(
        '<svg class="chart" data-testid="duration-chart" role="img" aria-label="{}" viewBox="0 0 {} {}" '
        'preserveAspectRatio="none"><title>{}</title>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="axis"/>{}'
        '<text x="{}" y="{}" class="tick" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" class="tick" text-anchor="end">0</text>'
        '<path d="{}" class="line"/>{}</svg>',
        label,
        width,
        height,
        label,
        left,
        top,
        left,
        top + plot_h,
        _time_axis(
            left, width - right, top + plot_h, height - 4, timed[0][0].finished, timed[-1][0].finished
        ),
        left - 6,
        top + 8,
        _fmt_ms(longest),
        left - 6,
        top + plot_h,
        path,
        dots,
    )


def _line(points: Iterable[tuple[float, float, CheckRun, str]]) -> tuple[str, SafeString]:
    """The path through the points and a dot on each, coloured by its run's outcome and titled."""
    points = list(points)
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y, _, _) in enumerate(points))
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3" class="spark-{}"><title>{}</title></circle>',
        ((f"{x:.1f}", f"{y:.1f}", run.status, title) for x, y, run, title in points),
    )
    return path, dots


def _when(moment: datetime | None, precision: str = "%d %b %H:%M") -> str:
    return timezone.localtime(moment).strftime(precision) if moment else ""


def _time_axis(
    x0: float, x1: float, axis_y: float, label_y: float, first: datetime | None, last: datetime | None
) -> SafeString:
    """The time axis under a chart: its line, and its two ends said precisely enough to differ
    (to the second when the runs span less than a minute)."""
    start, end = _when(first), _when(last)
    if start == end:
        start, end = _when(first, "%d %b %H:%M:%S"), _when(last, "%d %b %H:%M:%S")
    return format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="axis"/>'
        '<text x="{}" y="{}" class="tick">{}</text>'
        '<text x="{}" y="{}" class="tick" text-anchor="end">{}</text>',
        x0,
        axis_y,
        x1,
        axis_y,
        x0,
        label_y,
        start,
        x1,
        label_y,
        end,
    )


def state_timeline(
    transitions: Sequence, start_state: str, start: datetime, end: datetime | None = None
) -> SafeString:
    """Bands of the checker's state from ``start`` to now; ``transitions`` oldest first, inside the span."""
    end = end or timezone.now()
    span = (end - start).total_seconds() or 1
    width, height = 640, 36
    moments = [(start, start_state)] + [(t.created, t.new) for t in transitions]
    bands = []
    for index, (since, state) in enumerate(moments):
        until = moments[index + 1][0] if index + 1 < len(moments) else end
        x = (since - start).total_seconds() / span * width
        w = max((until - since).total_seconds() / span * width, 1)
        bands.append((f"{x:.1f}", f"{w:.1f}", state, f"{state} from {_when(since)} to {_when(until)}"))
    body = format_html_join(
        "",
        '<rect x="{}" y="0" width="{}" height="22" class="spark-{}"><title>{}</title></rect>',
        bands,
    )
    changes = len(transitions)
    label = f"State over the last {_span_text(end - start)}: {changes} change{'s' if changes != 1 else ''}"
    return format_html(
        '<svg class="chart" data-testid="state-timeline" role="img" aria-label="{}" viewBox="0 0 {} {}" '
        'preserveAspectRatio="none"><title>{}</title>{}'
        '<text x="0" y="{}" class="tick">{}</text>'
        '<text x="{}" y="{}" class="tick" text-anchor="end">now</text></svg>',
        label,
        width,
        height,
        label,
        body,
        height - 2,
        _when(start),
        width,
        height - 2,
    )


def _span_text(span: timedelta) -> str:
    """ "7 days", "day", or "3 hours" for a checker younger than a day."""
    if span < timedelta(days=1):
        return timesince(timezone.now() - span, depth=1).replace("\xa0", " ")
    days = round(span.total_seconds() / 86400)
    return f"{days} days" if days != 1 else "day"


def _figure(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"


def _round_out(low: float, high: float) -> tuple[float, float]:
    """The ends of a scale rounded outward to a step of 1, 2 or 5 times a power of ten, about a
    fifth of the span: 6.552 to 30 becomes 5 to 30, 1,020.4 to 1,310 becomes 1,000 to 1,400."""
    power = 10 ** math.floor(math.log10((high - low) / 5))
    step = next(power * m for m in (1, 2, 5, 10) if power * m >= (high - low) / 5)
    return math.floor(low / step) * step, math.ceil(high / step) * step


def figure_chart(
    name: str,
    runs: Sequence[CheckRun],
    bounds: Sequence[float],
    expected: Mapping[CheckRun, tuple[float, float]] | None = None,
    expected_words: str = "",
    width: int = 640,
    height: int = 140,
) -> SafeString:
    """One figure over recent runs, oldest left, each point coloured by its run's outcome, with
    the rule's bounds drawn across, so a drift toward a bound shows before it is crossed. A rule
    on history has no bound that holds still: ``expected`` is what it accepted at each run (its
    band, or the allowed change), shaded."""
    points = [(run, run.figures[name]) for run in runs if name in (run.figures or {})]
    if len(points) < 2:
        return format_html('<p class="text-body-secondary small mb-0">{}</p>', "Too few runs to chart yet.")
    expected = expected or {}
    values = [value for _, value in points]
    ends = [end for span in expected.values() for end in span if math.isfinite(end)]
    low, high = min([*values, *bounds, *ends]), max([*values, *bounds, *ends])
    high = high if high > low else low + 1
    if not bounds:  # the scale's ends are labelled: round them out to whole steps
        low, high = _round_out(low, high)
    left, right, top, bottom = 64, 8, 10, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / (len(points) - 1)

    def y(value: float) -> float:
        return top + plot_h * (1 - (max(low, min(high, value)) - low) / (high - low))

    path, dots = _line(
        (left + i * step, y(value), run, f"{_figure(value)}, {run.status}, {_when(run.finished)}")
        for i, (run, value) in enumerate(points)
    )
    lines = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="bound"/>'
        '<text x="{}" y="{}" class="bound-label" text-anchor="end">{}</text>',
        (
            (left, f"{y(b):.1f}", width - right, f"{y(b):.1f}", left - 6, f"{y(b) + 4:.1f}", _figure(b))
            for b in bounds
        ),
    )
    if not bounds:  # nothing labels the scale: say its ends
        lines = format_html(
            '<text x="{}" y="{}" class="tick" text-anchor="end">{}</text>'
            '<text x="{}" y="{}" class="tick" text-anchor="end">{}</text>',
            left - 6,
            top + 8,
            _figure(high),
            left - 6,
            top + plot_h,
            _figure(low),
        )
    spans = [(left + i * step, expected.get(run)) for i, (run, _) in enumerate(points)]
    label = (
        f"{name} over the last {len(points)} runs: from {_figure(min(values))} to {_figure(max(values))}, "
        f"now {_figure(values[-1])}"
        + (f"; bound{'s' if len(bounds) != 1 else ''} {', '.join(map(_figure, bounds))}" if bounds else "")
        + (f"; shaded: {expected_words}{_now_expected(spans)}" if expected else "")
    )
    return format_html(
        '<svg class="chart" data-testid="figure-chart" role="img" aria-label="{}" viewBox="0 0 {} {}" '
        'preserveAspectRatio="none"><title>{}</title>'
        "{}{}{}"
        '<path d="{}" class="line"/>{}</svg>',
        label,
        width,
        height,
        label,
        _shade(spans, y, step),
        _time_axis(
            left, width - right, top + plot_h, height - 4, points[0][0].finished, points[-1][0].finished
        ),
        lines,
        path,
        dots,
    )


def _shade(
    spans: Sequence[tuple[float, tuple[float, float] | None]], y: Callable[[float], float], step: float
) -> SafeString:
    """The accepted figures as shaded areas, one per stretch of runs that had them (a run that
    judged nothing, learning or on a day off, breaks the stretch); an open side reaches the edge."""
    stretches: list[list[tuple[float, tuple[float, float]]]] = [[]]
    for x, span in spans:
        if span is None:
            stretches.append([])
        else:
            stretches[-1].append((x, span))
    paths = []
    for stretch in filter(None, stretches):
        if len(stretch) == 1:
            (x, span), half = stretch[0], step / 4
            stretch = [(x - half, span), (x + half, span)]
        upper = [f"{x:.1f},{y(high):.1f}" for x, (_, high) in stretch]
        lower = [f"{x:.1f},{y(low):.1f}" for x, (low, _) in reversed(stretch)]
        paths.append((f"M{' L'.join(upper)} L{' L'.join(lower)} Z",))
    return format_html_join("", '<path d="{}" class="expected" data-testid="expected-band"/>', paths)


def _now_expected(spans: Sequence[tuple[float, tuple[float, float] | None]]) -> str:
    """The last run's accepted figures in words: ", now 6.55–15.45", ", now at least 812"."""
    last = spans[-1][1]
    if last is None:
        return ""
    low, high = last
    if math.isinf(low) and math.isinf(high):
        return ", now any figure"
    if math.isinf(high):
        return f", now at least {_figure(low)}"
    if math.isinf(low):
        return f", now at most {_figure(high)}"
    return f", now {_figure(low)}\N{EN DASH}{_figure(high)}"
