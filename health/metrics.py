"""``/metrics``: every figure computed from the database at scrape time.

This is the documented equal of prometheus-client's multiprocess mode: runs, deliveries and
states are rows every process writes, so counting rows is correct across any number of web
and worker processes and survives their restarts, with no shared directory to manage.
Counters are totals over the rows kept. Labels are bounded: ``namespace`` and ``checker`` are
slugs of existing objects, ``status``/``state``/``result`` small fixed sets, ``kind`` a channel
kind; the histograms are per namespace only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import Count, Min, Q, QuerySet, Sum
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from alarms.models import AlarmState, DeliveryAttempt, Notification
from checkers.models import CheckRun, RunStatus
from health.late import late_checkers
from health.models import Heartbeat

BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
FINISHED = [RunStatus.GREEN, RunStatus.RED, RunStatus.ERROR]


class DatabaseCollector(Collector):
    def collect(self) -> Iterator:
        now = timezone.now()
        yield self.runs()
        yield from (self.histogram(name, field, text) for name, field, text in HISTOGRAMS)
        yield self.states()
        yield self.late(now)
        yield self.dispatcher(now)
        yield self.queue_depth()
        yield from self.outbox(now)
        yield self.deliveries()
        yield self.workers(now)

    @staticmethod
    def runs() -> CounterMetricFamily:
        family = CounterMetricFamily(
            "malleable_runs",
            "Finished runs by namespace, checker and status.",
            labels=["namespace", "checker", "status"],
        )
        finished = CheckRun.objects.filter(status__in=FINISHED)
        return _sampled(family, _counted(finished, "checker__namespace__slug", "checker__slug", "status"))

    @staticmethod
    def histogram(name: str, field: str, text: str) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, text, labels=["namespace"])
        finished = CheckRun.objects.filter(status__in=FINISHED)
        aggregates = {
            f"le{i}": Count("pk", filter=Q(**{f"{field}__lte": b * 1000})) for i, b in enumerate(BUCKETS_S)
        }
        rows = (
            finished.values("checker__namespace__slug")
            .annotate(total=Count("pk"), seconds=Sum(field), **aggregates)
            .order_by()
        )
        for row in rows:
            buckets = [(str(b), row[f"le{i}"]) for i, b in enumerate(BUCKETS_S)] + [("+Inf", row["total"])]
            family.add_metric([row["checker__namespace__slug"]], buckets, (row["seconds"] or 0) / 1000)
        return family

    @staticmethod
    def states() -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "malleable_checkers", "Checkers by alarm state per namespace.", labels=["namespace", "state"]
        )
        return _sampled(family, _counted(AlarmState.objects.all(), "checker__namespace__slug", "state"))

    @staticmethod
    def late(now: datetime) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "malleable_late_checkers", "Checkers whose due run has not started in time.", labels=["namespace"]
        )
        counts: dict[str, int] = {}
        for each in late_checkers(now):
            counts[each.checker.namespace.slug] = counts.get(each.checker.namespace.slug, 0) + 1
        for namespace, count in counts.items():
            family.add_metric([namespace], count)
        return family

    @staticmethod
    def dispatcher(now: datetime) -> GaugeMetricFamily:
        """How far the scheduler is behind: the oldest due run not yet claimed (0 when none is)."""
        from checkers.models import Checker

        family = GaugeMetricFamily(
            "malleable_dispatcher_lag_seconds", "Age of the oldest due, unclaimed run."
        )
        oldest = Checker.objects.due(now).aggregate(first=Min("next_run_at"))["first"]
        family.add_metric([], (now - oldest).total_seconds() if oldest else 0)
        return family

    @staticmethod
    def queue_depth() -> GaugeMetricFamily:
        family = GaugeMetricFamily("malleable_queue_depth", "Runs queued or running.", labels=["status"])
        counts = dict(
            _counted(CheckRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]), "status")
        )
        for status in (RunStatus.QUEUED, RunStatus.RUNNING):
            family.add_metric([str(status)], counts.get(status, 0))
        return family

    @staticmethod
    def outbox(now: datetime) -> Iterator[GaugeMetricFamily]:
        backlog = GaugeMetricFamily(
            "malleable_outbox_backlog", "Alarms not delivered yet.", labels=["status"]
        )
        waiting = Notification.objects.exclude(status=Notification.Status.DELIVERED)
        counts = dict(_counted(waiting, "status"))
        for status in ("pending", "delivering", "held"):
            backlog.add_metric([status], counts.get(status, 0))
        yield backlog
        oldest = waiting.exclude(status=Notification.Status.HELD).aggregate(first=Min("created"))["first"]
        age = GaugeMetricFamily(
            "malleable_outbox_oldest_seconds", "Age of the oldest alarm waiting on an enabled channel."
        )
        age.add_metric([], (now - oldest).total_seconds() if oldest else 0)
        yield age

    @staticmethod
    def deliveries() -> CounterMetricFamily:
        family = CounterMetricFamily(
            "malleable_deliveries", "Delivery attempts by channel kind and result.", labels=["kind", "result"]
        )
        rows = _counted(DeliveryAttempt.objects.all(), "notification__channel__kind", "ok", "permanent")
        totals: dict[tuple[str, str], int] = {}
        for kind, ok, permanent, count in rows:
            result = "unfinished" if ok is None else "ok" if ok else "permanent" if permanent else "failed"
            totals[(kind, result)] = totals.get((kind, result), 0) + count
        return _sampled(family, ((kind, result, count) for (kind, result), count in totals.items()))

    @staticmethod
    def workers(now: datetime) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "malleable_heartbeat_age_seconds", "Seconds since each kind's newest heartbeat.", labels=["kind"]
        )
        for kind in Heartbeat.Kind:
            last = Heartbeat.last(kind)
            if last is not None:
                family.add_metric([str(kind)], (now - last.seen).total_seconds())
        return family


HISTOGRAMS = [
    ("malleable_run_duration_seconds", "duration_ms", "Run duration (start to finish) per namespace."),
    ("malleable_sql_seconds", "fetch_ms", "Time spent reading datasets (SQL) per run, per namespace."),
    ("malleable_sandbox_seconds", "sandbox_ms", "Time spent in the sandbox per run, per namespace."),
]


def _counted(rows: QuerySet[Any], *labels: str) -> QuerySet[Any, tuple[Any, ...]]:
    """(label values…, count) for each combination of ``labels`` (``order_by()``: a model's default
    ordering would split the groups)."""
    return rows.values_list(*labels).annotate(n=Count("pk")).order_by()


Family = TypeVar("Family", CounterMetricFamily, GaugeMetricFamily)


def _sampled(family: Family, rows: Iterable[tuple[Any, ...]]) -> Family:
    """One sample a row: the labels, then the value."""
    for *labels, value in rows:
        family.add_metric(labels, value)
    return family


def registry() -> CollectorRegistry:
    found = CollectorRegistry(auto_describe=False)
    found.register(DatabaseCollector())
    return found
