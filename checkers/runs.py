"""The flow of one run: fetch datasets, evaluate, record.

Fetching and evaluating happen outside any transaction (they take seconds and hold
connections to other databases); recording is one short transaction that writes the run
and sends ``run_recorded``, where alarms update their state in the same transaction. On
PostgreSQL, a run a worker took that changes nothing but counters (green stays green, red
stays red with its alarm open) is written with its alarm state in one statement instead
(``run_settling``), and a rule checker's datasource slot goes back in that statement too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from django.db import connection, transaction
from django.utils import timezone

from checkers import compilation, datasources, history
from checkers.datasources import KeySample, Measure
from checkers.models import (
    AdvisorySlots,
    BusinessCalendar,
    Checker,
    CheckerKind,
    CheckerRule,
    CheckRun,
    Dataset,
    Datasource,
    FailingRows,
    RunStatus,
    Trigger,
)
from checkers.rules import Rule, judge_all, measures_by_dataset, numbers
from checkers.sandbox import (
    FAILING_KEYS_CAP,
    CheckerError,
    ErrorKind,
    FailingSample,
    Level,
    Outcome,
    SandboxError,
    Status,
    key_text,
)
from checkers.signals import run_recorded, run_settling
from malleable import texts
from malleable.rows import ModelRows, pipelined, update_row, update_statement
from namespaces.models import Namespace

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """What a run found, before anything is written."""

    outcome: Outcome
    started: datetime
    finished: datetime
    fetch_ms: float = 0.0
    sandbox_ms: float = 0.0
    dataset_stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The numbers the run measured, by name ("null count of email in orders"), kept for history.
    figures: dict[str, float] = field(default_factory=dict)
    # The key column of each dataset whose failing rows the run keeps (a rule's; a Python
    # checker's ``fail_rows`` names none).
    key_columns: dict[str, str] = field(default_factory=dict)


def fetch_datasets(
    checker: Checker, stats: dict[str, dict[str, Any]], declared: Iterable[Dataset] | None = None
) -> dict[str, dict[str, Any]]:
    """Every dataset the checker reads; the first failure is a ``dataset_error`` that names it.

    A dataset cut at its datasource's row cap is a ``dataset_truncated`` error unless it is
    marked as a sample: a verdict on the first N rows would say all is well when it is not.
    One whose rows pass the byte cap is the same error, sample or not.
    """
    fetched = {}
    for dataset in checker.read_datasets(declared):
        started = time.perf_counter()
        try:
            result = dataset.fetch()
        except datasources.DatasetTooLarge as exc:
            raise SandboxError(ErrorKind.DATASET_TRUNCATED, dataset.too_large_error(exc)) from None
        except datasources.DatasourceError as exc:
            raise SandboxError(ErrorKind.DATASET_ERROR, f"dataset {dataset.slug}: {exc}") from None
        stats[dataset.slug] = {
            "rows": len(result.values),
            "ms": round((time.perf_counter() - started) * 1000, 3),
            "query_ms": round(result.duration_ms, 3),
            "truncated": result.truncated,
            "sample": dataset.sample,
        }
        if result.truncated and not dataset.sample:
            raise SandboxError(ErrorKind.DATASET_TRUNCATED, dataset.truncated_error(len(result.values)))
        fetched[dataset.slug] = result.to_dataset() | ({"truncated": True} if result.truncated else {})
    return fetched


def measure_rules(
    rules: Sequence[CheckerRule],
    stats: dict[str, dict[str, Any]],
    named: dict[str, float],
    at: datetime | None = None,
    checker: Checker | None = None,
) -> Outcome:
    """Ask the databases for the rules' figures and judge them; ``named`` gets the numbers.

    All the rules on one dataset are one aggregate query, and all the queries on one datasource
    run under one lease in one read-only session. Rules on history are judged with the
    checker's stored figures from before ``at`` (``checkers.history``).
    """
    if not rules:
        detail = "rule_error: this rule checker has no rules: add one in the editor or in `rules:`"
        return Outcome(Status.ERROR, error=CheckerError(ErrorKind.RULE_ERROR, detail))
    specs = [rule.spec() for rule in rules]
    datasets = {rule.dataset.slug: rule.dataset for rule in rules}
    plan = measures_by_dataset(specs)
    first_rows = {spec.dataset for spec in specs if spec.measure is None}
    samples = key_samples(specs)
    by_source: dict[int, list[Dataset]] = {}
    for slug in plan:
        by_source.setdefault(datasets[slug].datasource_id, []).append(datasets[slug])
    figures: Figures = {}
    try:
        for group in by_source.values():
            _ask(group, plan, first_rows, figures, stats, samples)
    except SandboxError as exc:
        return Outcome(Status.ERROR, error=CheckerError(exc.kind, exc.detail))
    judge = history.judge_for(checker or rules[0].checker, specs, at or timezone.now())
    messages, error = judge_all(specs, lambda spec: figures[(spec.dataset, spec.measure)], judge)
    named |= numbers({spec.describe(): figures[(spec.dataset, spec.measure)] for spec in specs})
    if error:
        return Outcome(Status.ERROR, messages, CheckerError(error.kind, error.detail))
    status = Status.RED if any(m.level == Level.FAIL for m in messages) else Status.GREEN
    found = {
        slug: FailingSample(int(figures[(slug, Measure("row_count"))] or 0), figures[(slug, sample)])
        for slug, sample in samples.items()
    }
    return Outcome(status, messages, failing_rows=found)


def key_samples(specs: Sequence[Rule]) -> dict[str, KeySample]:
    """The datasets whose failing keys a run reads: those of a rule that no rows may match
    and has a key column (the first such rule's column, when two name one dataset)."""
    samples: dict[str, KeySample] = {}
    for spec in specs:
        if spec.key_column and spec.no_rows:
            samples.setdefault(spec.dataset, KeySample(spec.key_column, FAILING_KEYS_CAP))
    return samples


Figures = dict[tuple[str, Measure | KeySample | None], Any]


def _ask(
    group: list[Dataset],
    plan: dict[str, list[Measure]],
    first_rows: set[str],
    figures: Figures,
    stats: dict[str, dict[str, Any]],
    samples: dict[str, KeySample],
) -> None:
    """One datasource's questions in one session; add the figures (``None``: the first cell;
    a ``KeySample``: the keys, as text).

    A failure is a ``dataset_error`` naming the dataset, or a ``rule_error`` naming a column
    the dataset does not have.
    """
    asked: list[tuple[Dataset, list[Measure] | KeySample | None]]
    asked = [(dataset, plan[dataset.slug]) for dataset in group if plan[dataset.slug]]
    asked += [(dataset, None) for dataset in group if dataset.slug in first_rows]
    asked += [(dataset, samples[dataset.slug]) for dataset in group if dataset.slug in samples]
    try:
        results = group[0].datasource.measure([(dataset.sql, measures) for dataset, measures in asked])
    except datasources.DatasetTooLarge as exc:
        dataset, _ = asked[exc.statement or 0]
        raise SandboxError(ErrorKind.DATASET_TRUNCATED, dataset.too_large_error(exc)) from None
    except datasources.DatasourceError as exc:
        dataset, measures = asked[exc.statement or 0]
        columns = [measures.column] if isinstance(measures, KeySample) else [m.column for m in measures or []]
        raise _missing_column(dataset, columns) or SandboxError(
            ErrorKind.DATASET_ERROR, f"dataset {dataset.slug}: {exc}"
        ) from None
    for (dataset, measures), result in zip(asked, results, strict=True):
        row = result.values[0] if result.values else ()
        if measures is None:
            figures[(dataset.slug, None)] = row[0] if row else None
        elif isinstance(measures, KeySample):
            figures[(dataset.slug, measures)] = [key_text(values[0]) for values in result.values]
        else:
            figures |= {(dataset.slug, m): value for m, value in zip(measures, row, strict=True)}
        stat = stats.setdefault(
            dataset.slug, {"rows": None, "in_database": True, "ms": 0.0, "truncated": False}
        )
        stat["ms"] = stat["query_ms"] = round(stat["ms"] + result.duration_ms, 3)


def _missing_column(dataset: Dataset, columns: Sequence[str]) -> SandboxError | None:
    """A rule's column the dataset does not have, said as such rather than as the database's error."""
    try:
        (first,) = dataset.datasource.measure([(dataset.sql, None)])
    except datasources.DatasourceError:
        return None
    missing = next((column for column in columns if column and column not in first.columns), None)
    if missing is None:
        return None
    return SandboxError(
        ErrorKind.RULE_ERROR,
        f"rule on {dataset.slug}: dataset {dataset.slug!r} has no column {missing!r}; "
        f"columns are {first.columns}",
    )


def evaluate(
    checker: Checker,
    declared: Iterable[Dataset] | None = None,
    rules: Sequence[CheckerRule] | None = None,
) -> Evaluation:
    """Fetch and evaluate; never raises for the checker's or the datasource's faults.

    ``declared`` and ``rules``: the datasets of a code checker, or the rules of a rule
    checker, being edited, in place of the saved ones.
    """
    started = timezone.now()
    stats: dict[str, dict[str, Any]] = {}
    clock = time.perf_counter()
    if checker.kind == CheckerKind.RULE:
        figures: dict[str, float] = {}
        rules = checker.rule_list() if rules is None else rules
        outcome = measure_rules(rules, stats, figures, started, checker)
        elapsed = (time.perf_counter() - clock) * 1000
        keys = {slug: sample.column for slug, sample in key_samples([rule.spec() for rule in rules]).items()}
        return Evaluation(
            outcome,
            started,
            timezone.now(),
            fetch_ms=elapsed,
            dataset_stats=stats,
            figures=figures,
            key_columns=keys,
        )
    try:
        datasets = fetch_datasets(checker, stats, declared)
    except SandboxError as err:
        fetch_ms = (time.perf_counter() - clock) * 1000
        outcome = Outcome(Status.ERROR, error=CheckerError(err.kind, err.detail), duration_ms=fetch_ms)
        return Evaluation(outcome, started, timezone.now(), fetch_ms=fetch_ms, dataset_stats=stats)
    fetch_ms = (time.perf_counter() - clock) * 1000
    calendar = BusinessCalendar.answers_for(checker)
    outcome = compilation.sandbox().run(
        checker.program(), datasets, checker.limits(), checker.params, calendar
    )
    return Evaluation(
        outcome,
        started,
        timezone.now(),
        fetch_ms=fetch_ms,
        sandbox_ms=outcome.duration_ms,
        dataset_stats=stats,
        figures=numbers(outcome.metrics),
    )


# The checker's last run, for its page, the admin and the API. Plain SQL, as it is written on
# every run: the ORM took longer to build the statement than the database to run it.
LAST_RUN_SQL = "UPDATE checkers_checker SET last_run_at = %s WHERE id = %s"

# A settled run's one statement (``_write_settled``) names the checker as this: its row, locked
# before anything else, as the first UPDATE of ``record``'s transaction locks it, so that the two
# never wait on each other in turn.
SETTLED_CHECKER_ID = "(SELECT id FROM checker)"

# What recording writes on a run a worker took.
RECORDED = (
    "status",
    "started",
    "finished",
    "messages",
    "error_kind",
    "error_detail",
    "logs",
    "duration_ms",
    "fetch_ms",
    "sandbox_ms",
    "fuel_used",
    "dataset_stats",
    "figures",
)


def record(checker: Checker, evaluation: Evaluation, trigger: str, run: CheckRun | None = None) -> CheckRun:
    """Write the run and let alarms react, in one transaction; a run a worker took that changes
    nothing but counters, in one statement (``_write_settled``).

    Messages, logs and the error detail are the guest's or the database's words: they are
    cleaned and capped (``malleable.texts``) so that no text can stop the run being recorded.
    """
    outcome = evaluation.outcome
    run = run or CheckRun(checker=checker, trigger=trigger, queued=evaluation.started)
    run.status = str(outcome.status)
    run.started = run.started or evaluation.started
    run.finished = evaluation.finished
    run.messages = texts.storable_messages(m.to_dict() for m in outcome.messages)
    run.error_kind = str(outcome.error.kind) if outcome.error else ""
    run.error_detail = texts.storable(outcome.error.detail, texts.DETAIL_BYTES) if outcome.error else ""
    run.logs = texts.storable(outcome.logs, texts.LOG_BYTES)
    run.duration_ms = round((evaluation.finished - evaluation.started).total_seconds() * 1000, 3)
    run.fetch_ms = round(evaluation.fetch_ms, 3)
    run.sandbox_ms = round(evaluation.sandbox_ms, 3)
    run.fuel_used = outcome.fuel_used
    run.dataset_stats = evaluation.dataset_stats
    run.figures = evaluation.figures
    failing_rows = FailingRows.kept(run, outcome.failing_rows, evaluation.key_columns)
    if run.pk is not None and not failing_rows and _write_settled(checker, run):
        run_recorded.send(sender=Checker, checker=checker, run=run, settled=True)
        return run
    with transaction.atomic():
        with pipelined():  # BEGIN, the checker's last run and the run: one round trip on PostgreSQL
            with connection.cursor() as cursor:
                cursor.execute(
                    LAST_RUN_SQL, [connection.ops.adapt_datetimefield_value(run.finished), checker.pk]
                )
            if run.pk is None:
                run.save()
            else:
                update_row(run, RECORDED)
        FailingRows.record(run, outcome.failing_rows, evaluation.key_columns)
        run_recorded.send(sender=Checker, checker=checker, run=run, settled=False)
    return run


def _write_settled(checker: Checker, run: CheckRun) -> bool:
    """On PostgreSQL, write the run, the checker's last run and every answer of ``run_settling``
    in one statement that writes all of it or none; False when it wrote nothing (another database,
    a receiver that cannot settle the run, or an answer that matched no row). The statement also
    gives back the datasource slots the run still holds (``AdvisorySlots.given_back_later``)."""
    if connection.vendor != "postgresql":
        return False
    answers: list[tuple[str, list[Any]]] = []
    asked = run_settling.send(sender=Checker, checker=checker, run=run, checker_id=SETTLED_CHECKER_ID)
    for _, answer in asked:
        if answer is None:
            return False
        answers.append(cast("tuple[str, list[Any]]", answer))  # django-stubs says a receiver answers str
    if not answers:
        return False
    names = [f"settled_{index}" for index in range(len(answers))]
    settled = " AND ".join(f"EXISTS (SELECT FROM {name})" for name in names)
    run_sql, run_params = update_statement(run, RECORDED)
    locks = AdvisorySlots.still_held()
    unlocking, unlock_params = AdvisorySlots.unlocking(locks)
    ctes = [
        "checker AS (SELECT id FROM checkers_checker WHERE id = %s FOR UPDATE)",
        *(f"{name} AS ({answer_sql})" for name, (answer_sql, _) in zip(names, answers, strict=True)),
        f"last_run AS ({LAST_RUN_SQL} AND {settled})",
        f"recorded AS ({run_sql} AND {settled})",
    ]
    sql = f"WITH {', '.join(ctes)} SELECT {', '.join([settled, unlocking] if locks else [settled])}"
    params = [
        checker.pk,
        *(value for _, values in answers for value in values),
        connection.ops.adapt_datetimefield_value(run.finished),
        checker.pk,
        *run_params,
        *unlock_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written = cursor.fetchone()[0]
    AdvisorySlots.released(locks)
    return written


def record_error(run: CheckRun, kind: ErrorKind, detail: str) -> CheckRun:
    """Record a run the host had to abandon, so it never stays "running"."""
    now = timezone.now()
    error = SandboxError(kind, detail)
    outcome = Outcome(Status.ERROR, error=CheckerError(error.kind, error.detail))
    return record(run.checker, Evaluation(outcome, run.started or now, now), run.trigger, run)


def record_skipped(run: CheckRun, reason: str) -> CheckRun:
    """Record a run that was not made (``quotas.budget_spent``): no signal is sent, so the
    alarm state, the checker's last run and every notification stay as they were."""
    now = timezone.now()
    run.status = RunStatus.SKIPPED
    run.started = run.started or now
    run.finished = now
    run.error_detail = reason
    run.duration_ms = 0.0
    run.save(update_fields=["status", "started", "finished", "error_detail", "duration_ms"])
    return run


def execute(checker: Checker, trigger: str = Trigger.MANUAL, run: CheckRun | None = None) -> CheckRun:
    """Run a checker now, in this process, and record the run. A rule checker's datasource
    slots go back with its recording: nothing runs between its queries and it but the rules."""
    if checker.kind != CheckerKind.RULE:
        return record(checker, evaluate(checker), trigger, run)
    with AdvisorySlots.given_back_later():
        return record(checker, evaluate(checker), trigger, run)


def claim_queued(run_id: int) -> CheckRun | None:
    """Take a queued run for this worker, with its checker ready to run (``Checker.with_rules``);
    a redelivered or duplicate task finds nothing to take.

    A conditional UPDATE takes it, and one read gives the run with its checker, namespace and
    rules. On PostgreSQL both are one statement, the UPDATE's RETURNING feeding the joins;
    SQLite allows no UPDATE in a WITH and MySQL returns no rows from one, so there the read
    follows the UPDATE that took the run.
    """
    now = timezone.now()
    if connection.vendor == "postgresql":
        now_value = connection.ops.adapt_datetimefield_value(now)
        rows = _TAKE_AND_READ.fetch([RunStatus.RUNNING.value, now_value, run_id, RunStatus.QUEUED.value])
    else:
        taken = CheckRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING, started=now
        )
        rows = _READ.fetch([run_id]) if taken else []
    if not rows:
        return None
    run = rows[0][0]
    run.checker = Checker.with_rules([row[1:] for row in rows])
    return run


def _run_read(runs: str, where: str = "", take: str = "", prepared: str = "") -> ModelRows:
    """A run from ``runs`` with its checker, the checker's namespace, and its rules with their
    datasets and datasources (outer joins: a code checker has no rules)."""
    return ModelRows(
        [
            (CheckRun, "run"),
            (Checker, "c"),
            (Namespace, "n"),
            (CheckerRule, "r"),
            (Dataset, "d"),
            (Datasource, "s"),
        ],
        f"{take}SELECT {{columns}} FROM {runs} run"  # noqa: S608 - table names and this module's SQL only
        " JOIN checkers_checker c ON c.id = run.checker_id"
        " JOIN namespaces_namespace n ON n.id = c.namespace_id"
        " LEFT JOIN checkers_checkerrule r ON r.checker_id = c.id"
        " LEFT JOIN checkers_dataset d ON d.id = r.dataset_id"
        f" LEFT JOIN checkers_datasource s ON s.id = d.datasource_id {where} ORDER BY r.position, r.id",
        prepared=prepared,
    )


# The claim commits without waiting for the write-ahead log to reach the disk (``set_config``'s
# ``synchronous_commit`` for this statement's transaction: PostgreSQL decides at commit). A claim
# lost to a crash of the database server leaves the run queued, which ``recover_lost_runs`` sends
# again; a recording is a later commit that waits, and writing it to disk writes the claim
# before it. This saves one flush per run: about 0.2 ms on this machine, more on slower disks.
_TAKE_AND_READ = _run_read(
    "taken",
    take="WITH taken AS (UPDATE checkers_checkrun SET status = %s, started = %s"
    " WHERE id = %s AND status = %s AND set_config('synchronous_commit', 'off', true) = 'off'"
    " RETURNING *) ",
    prepared="malleable_claim_run",
)
_READ = _run_read("checkers_checkrun", where="WHERE run.id = %s")
