"""Test runs: a checker as saved, or as typed in the editor, evaluated by a worker.

The page writes a ``TestRun`` row (the draft, when there is one) and sends its id to the
worker (``tasks.run_test``); it then waits at most ``MALLEABLE_TEST_RUN_WAIT`` seconds for the
result and polls after that, so a checker whose datasets take minutes never holds a web
request. The worker rebuilds the draft and evaluates it with ``runs.evaluate``, the code of
every run, records nothing in the run history and alarms nobody. Its time counts against the
namespace's worker-seconds (``checkers/quotas.py``); once they are spent a test run answers
at once with the same "skipped: …" as a run. Rows are deleted an hour after they were made.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from checkers import quotas, runs
from checkers.models import Checker, CheckerKind, CheckerRule, Dataset, TestRun
from checkers.sandbox import CheckerError, ErrorKind, Level, Message, Outcome, SandboxError, Status
from malleable import texts

# What a run of a checker reads from it, besides its datasets, rules and module.
DRAFT_FIELDS = ("slug", "name", "kind", "source", "params", "timeout_s", "memory_mb", "fuel", "timezone")
RULE_FIELDS = ("metric", "column", "op", "value", "high", "message")
# How often a page waiting for a result looks at the row.
POLL_S = 0.2

Draft = tuple[Checker, list[Dataset] | None, list[CheckerRule] | None]


def create(
    checker: Checker,
    user: Any,
    declared: Iterable[Dataset] | None = None,
    rules: Sequence[CheckerRule] | None = None,
) -> TestRun:
    """The row a worker evaluates: ``declared`` and ``rules`` (the editor's form) make it a draft.

    A namespace whose worker-seconds are spent gets a finished, skipped test run at once.
    """
    is_draft = declared is not None or rules is not None
    test_run = TestRun.objects.create(
        namespace=checker.namespace,
        checker=checker if checker.pk else None,
        requested_by=user if getattr(user, "pk", None) else None,
        draft=draft_of(checker, declared or [], rules or []) if is_draft else None,
        wasm_module=bytes(checker.wasm_module) if is_draft and checker.wasm_module else None,
    )
    spent = quotas.budget_spent(checker.namespace)
    if spent is not None:
        _finish(test_run, {"skipped": spent}, 0.0)
    return test_run


def draft_of(checker: Checker, declared: Iterable[Dataset], rules: Sequence[CheckerRule]) -> dict[str, Any]:
    return {
        **{name: getattr(checker, name) for name in DRAFT_FIELDS},
        "datasets": [dataset.pk for dataset in declared],
        "rules": [
            {"dataset": rule.dataset_id, **{f: getattr(rule, f) for f in RULE_FIELDS}} for rule in rules
        ],
    }


def rebuild(test_run: TestRun) -> Draft:
    """The checker to evaluate, with the datasets and rules that stand in for its saved ones.

    Only datasets of the test run's namespace are read; one deleted since is left out.
    """
    if test_run.draft is None:
        assert test_run.checker is not None, "a test run without a draft tests a saved checker"
        return test_run.checker, None, None
    draft = test_run.draft
    checker = Checker(
        namespace=test_run.namespace,
        wasm_module=test_run.wasm_module,
        **{name: draft[name] for name in DRAFT_FIELDS},
    )
    wanted = [*draft["datasets"], *(rule["dataset"] for rule in draft["rules"])]
    found = Dataset.objects.filter(namespace=test_run.namespace, pk__in=wanted).select_related("datasource")
    datasets = {dataset.pk: dataset for dataset in found}
    declared = [datasets[pk] for pk in draft["datasets"] if pk in datasets]
    rules = [
        CheckerRule(dataset=datasets[rule["dataset"]], **{f: rule[f] for f in RULE_FIELDS})
        for rule in draft["rules"]
        if rule["dataset"] in datasets
    ]
    return checker, declared, rules


def read_datasets(
    checker: Checker, declared: list[Dataset] | None, rules: list[CheckerRule] | None
) -> list[Dataset]:
    """What the test run reads: for a worker's time limit."""
    if rules is not None and checker.kind == CheckerKind.RULE:
        return checker.read_datasets({rule.dataset for rule in rules})
    return checker.read_datasets(declared)


def claim(test_run_id: int) -> TestRun | None:
    """Take the test run for this worker; a redelivered task finds it taken and does nothing."""
    if not TestRun.objects.filter(pk=test_run_id, started=None, finished=None).update(started=timezone.now()):
        return None
    return TestRun.objects.select_related("namespace", "checker__namespace").get(pk=test_run_id)


def execute(test_run: TestRun) -> None:
    """Evaluate a claimed test run and keep its result; then forget test runs past their hour."""
    spent = quotas.budget_spent(test_run.namespace)
    if spent is not None:
        _finish(test_run, {"skipped": spent}, 0.0)
    else:
        checker, declared, rules = rebuild(test_run)
        evaluation = runs.evaluate(checker, declared=declared, rules=rules)
        elapsed_ms = (evaluation.finished - evaluation.started).total_seconds() * 1000
        _finish(test_run, stored(evaluation), elapsed_ms)
    TestRun.objects.filter(created__lt=timezone.now() - TestRun.KEPT).delete()


def give_up(test_run: TestRun, kind: ErrorKind, detail: str) -> None:
    """Keep an error result for a test run the worker had to abandon, so the page stops waiting."""
    now = timezone.now()
    error = SandboxError(kind, detail)
    outcome = Outcome(Status.ERROR, error=CheckerError(error.kind, error.detail))
    started = test_run.started or now
    _finish(test_run, stored(runs.Evaluation(outcome, started, now)), (now - started).total_seconds() * 1000)


def _finish(test_run: TestRun, result: dict[str, Any], duration_ms: float) -> None:
    test_run.result, test_run.duration_ms, test_run.finished = result, round(duration_ms, 3), timezone.now()
    test_run.save(update_fields=["result", "duration_ms", "finished"])


def stored(evaluation: runs.Evaluation) -> dict[str, Any]:
    """An evaluation as JSON, its texts cleaned and capped as a recorded run's are."""
    outcome = evaluation.outcome
    return {
        "status": str(outcome.status),
        "messages": texts.storable_messages(m.to_dict() for m in outcome.messages),
        "error": {
            "kind": str(outcome.error.kind),
            "detail": texts.storable(outcome.error.detail, texts.DETAIL_BYTES),
        }
        if outcome.error
        else None,
        "logs": texts.storable(outcome.logs, texts.LOG_BYTES),
        "duration_ms": round(outcome.duration_ms, 3),
        "fuel_used": outcome.fuel_used,
        "started": evaluation.started.isoformat(),
        "finished": evaluation.finished.isoformat(),
        "fetch_ms": round(evaluation.fetch_ms, 3),
        "sandbox_ms": round(evaluation.sandbox_ms, 3),
        "dataset_stats": evaluation.dataset_stats,
        "figures": evaluation.figures,
    }


def evaluation_of(result: dict[str, Any]) -> runs.Evaluation:
    """The evaluation a ``stored`` result holds, for the page that shows it."""
    error = result["error"]
    outcome = Outcome(
        Status(result["status"]),
        [Message(Level(m["level"]), m["text"]) for m in result["messages"]],
        CheckerError(ErrorKind(error["kind"]), error["detail"]) if error else None,
        result["logs"],
        result["duration_ms"],
        result["fuel_used"],
    )
    return runs.Evaluation(
        outcome,
        datetime.fromisoformat(result["started"]),
        datetime.fromisoformat(result["finished"]),
        fetch_ms=result["fetch_ms"],
        sandbox_ms=result["sandbox_ms"],
        dataset_stats=result["dataset_stats"],
        figures=result["figures"],
    )


def wait(test_run: TestRun, seconds: float) -> TestRun:
    """The test run once finished, or as it is after ``seconds``: the most a page waits."""
    deadline = time.monotonic() + seconds
    while True:
        test_run.refresh_from_db(fields=["started", "finished", "duration_ms", "result"])
        left = deadline - time.monotonic()
        if test_run.finished is not None or left <= 0:
            return test_run
        time.sleep(min(POLL_S, left))
