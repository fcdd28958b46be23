"""Malleable, warm: Django set up once, checkers run with ``checkers.runs.execute``.

Run by ``run.py`` with the project's ``.venv/bin/python`` and ``DATABASE_URL`` pointing at a
throwaway database of its own (``malleable_peers_own``, never the one the checks read). It
migrates that database, writes the checks-as-code file below and imports it with
``import_config``, then answers tasks. A task's time is what a worker does with a checker's
id: load the checker, then ``runs.execute(checker)``: fetch, evaluate and record the run (its
alarm state, transition and outbox included).

The file is written for rule suites (one checker, ``rules: [...]``) and the ``freshness`` and
``duplicate_count`` metrics. A Malleable without them refuses that file; the worker then
imports the *today* form instead, says so in its notes, and leaves out the suite task: the
ten separate rule checkers then read freshness and duplicates as ``scalar`` rules over a
dataset each (``orders_100k_age``, ``orders_100k_duplicate_ids``). ``--today`` forces it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT)]

import spec  # noqa: E402

NAMESPACE = "peers"
READER_URL = "postgresql://malleable_peers_reader@127.0.0.1:5432/malleable_peers"

DATASETS = {
    "orders": "SELECT * FROM orders",
    "orders_100k": "SELECT * FROM orders_100k",
    "orders_100k_out_of_bounds": spec.OUT_OF_BOUNDS_SQL,
    "refunded_over_500": spec.CUSTOM_SQL,
}
TODAY_DATASETS = {
    "orders_100k_age": "SELECT EXTRACT(EPOCH FROM now() - max(created_at)) FROM orders_100k",
    "orders_100k_duplicate_ids": "SELECT count(id) - count(DISTINCT id) FROM orders_100k",
}


def rule(dataset: str, metric: str, op: str, value: float, message: str, **more: Any) -> dict[str, Any]:
    return {"dataset": dataset, "metric": metric, **more, "op": op, "value": value, "message": message}


def ten_rules(final: bool) -> list[tuple[str, dict[str, Any]]]:
    """The ten checks of ``spec``, as (slug, rule)."""
    if final:
        fresh = rule(
            "orders_100k",
            "freshness",
            "<",
            spec.FRESH_WITHIN_S,
            "newest order within a day",
            column="created_at",
        )
        unique = rule("orders_100k", "duplicate_count", "==", 0, "no duplicate ids", column="id")
    else:
        fresh = rule("orders_100k_age", "scalar", "<", spec.FRESH_WITHIN_S, "newest order within a day")
        unique = rule("orders_100k_duplicate_ids", "scalar", "==", 0, "no duplicate ids")
    low, high = spec.AVG_AMOUNT
    return [
        ("rows", rule("orders_100k", "row_count", ">", 0, "orders exist")),
        (
            "null-emails",
            rule(
                "orders_100k",
                "null_count",
                "<",
                spec.NULL_EMAILS_100K_BELOW,
                "few orders without e-mail",
                column="email",
            ),
        ),
        (
            "min-amount",
            rule("orders_100k", "min", ">=", spec.MIN_AMOUNT_AT_LEAST, "smallest amount", column="amount"),
        ),
        (
            "max-amount",
            rule("orders_100k", "max", "<=", spec.MAX_AMOUNT_AT_MOST, "largest amount", column="amount"),
        ),
        (
            "avg-amount",
            rule("orders_100k", "avg", "between", low, "average amount", column="amount", high=high),
        ),
        (
            "statuses",
            rule("orders_100k", "distinct_count", "==", spec.STATUSES, "order statuses", column="status"),
        ),
        (
            "amount-bounds",
            rule("orders_100k_out_of_bounds", "row_count", "==", 0, "amounts between 0 and 10,000"),
        ),
        ("fresh", fresh),
        ("unique-ids", unique),
        (
            "refunded-over-500",
            rule("refunded_over_500", "scalar", "<", spec.REFUNDED_OVER_500_BELOW, "large refunds"),
        ),
    ]


PYTHON_CHECKER = f"""\
from datetime import datetime

orders = datasets["orders_100k"]
ids, amounts = orders.column("id"), orders.column("amount")
statuses, emails = orders.column("status"), orders.column("email")
check = CheckerCase()
check.assertGreaterThan(len(orders), 0, "orders exist")
check.assertLessThan(emails.count(None), {spec.NULL_EMAILS_100K_BELOW}, "few orders without e-mail")
values = [a for a in amounts if a is not None]
check.assertGreaterEqual(min(values), {spec.MIN_AMOUNT_AT_LEAST}, "smallest amount")
check.assertLessEqual(max(values), {spec.MAX_AMOUNT_AT_MOST}, "largest amount")
check.assertBetween(sum(values) / len(values), {spec.AVG_AMOUNT[0]}, {spec.AVG_AMOUNT[1]}, "average amount")
check.assertEqual(len(set(s for s in statuses if s is not None)), {spec.STATUSES}, "order statuses")
outside = sum(1 for a in values if not {spec.AMOUNT_BOUNDS[0]} <= a <= {spec.AMOUNT_BOUNDS[1]})
check.assertEqual(outside, 0, "amounts between 0 and 10,000")
newest = datetime.fromisoformat(max(c for c in orders.column("created_at") if c is not None))
check.assertLessThan((now() - newest).total_seconds(), {spec.FRESH_WITHIN_S}, "newest order within a day")
present = [i for i in ids if i is not None]
check.assertEqual(len(present) - len(set(present)), 0, "no duplicate ids")
large = sum(1 for s, a in zip(statuses, amounts) if s == "refunded" and a is not None and a > 500)
check.assertLessThan(large, {spec.REFUNDED_OVER_500_BELOW}, "large refunds")
"""


def config(final: bool) -> dict[str, Any]:
    """The checks-as-code document: the namespace, its datasource, datasets and checkers."""
    every = {"every": 3600}
    datasets = DATASETS if final else DATASETS | TODAY_DATASETS
    checkers = [
        {
            "slug": "rowcount-1k",
            "schedule": every,
            "rule": rule("orders", "row_count", ">", 0, "orders exist"),
        },
        {
            "slug": "nullcount-1k",
            "schedule": every,
            "rule": rule(
                "orders",
                "null_count",
                "<",
                spec.NULL_EMAILS_1K_BELOW,
                "few orders without e-mail",
                column="email",
            ),
        },
        {"slug": "python-100k", "schedule": every, "datasets": ["orders_100k"], "python": PYTHON_CHECKER},
    ]
    checkers += [
        {"slug": f"ten-{slug}", "schedule": every, "rule": spec_} for slug, spec_ in ten_rules(final)
    ]
    if final:
        checkers.append({"slug": "suite-100k", "schedule": every, "rules": [r for _, r in ten_rules(True)]})
    return {
        "namespaces": [
            {
                "slug": NAMESPACE,
                "name": "bench/peers",
                "members": [{"user": "peersbench", "role": "owner"}],
                # row_cap: today a rule fetches every row, and a cut dataset would be judged cut.
                "datasources": [
                    {"slug": "shop", "engine": "postgresql", "url": READER_URL, "row_cap": 1_000_000}
                ],
                "datasets": [
                    {"slug": slug, "datasource": "shop", "sql": sql} for slug, sql in datasets.items()
                ],
                "checkers": checkers,
            }
        ]
    }


def write_config(workdir: Path, final: bool) -> Path:
    import yaml

    path = workdir / ("malleable-final.yaml" if final else "malleable-today.yaml")
    path.write_text(yaml.safe_dump(config(final), sort_keys=False, width=100), encoding="utf-8")
    return path


def import_config(workdir: Path, today: bool) -> tuple[bool, list[str]]:
    """Import the final form if this Malleable takes it, else today's; returns (final, notes)."""
    from django.core.management import call_command

    from checks_as_code.config import ConfigInvalid, import_file

    notes = []
    final = not today
    if final:
        path = write_config(workdir, True)
        try:
            import_file(path, dry_run=True, create_users=True)
        except ConfigInvalid as exc:
            final = False
            notes.append(
                "this Malleable refuses the rule-suite file, so the suite task is skipped and freshness"
                f" and duplicates are scalar rules; first error: {exc.errors[0]}".replace(str(ROOT) + "/", "")
            )
    else:
        notes.append(
            "--malleable-today: the suite task is skipped; freshness and duplicates are scalar rules"
        )
    path = path if final else write_config(workdir, False)
    call_command("import_config", str(path), create_users=True, verbosity=0)
    return final, notes


def tasks(final: bool) -> dict[str, Any]:
    from checkers import runs
    from checkers.models import Checker

    ids = dict(Checker.objects.filter(namespace__slug=NAMESPACE).values_list("slug", "pk"))

    def run(*slugs: str) -> spec.Verdict:
        passed = checks = 0
        statuses = []
        for slug in slugs:
            done = runs.execute(Checker.objects.select_related("namespace").get(pk=ids[slug]))
            levels = [m["level"] for m in done.messages]
            passed += levels.count("ok")
            checks += levels.count("ok") + levels.count("fail")
            statuses.append(
                done.status if not done.error_kind else f"{done.status}:{done.error_kind}:{done.error_detail}"
            )
        return spec.verdict(passed, checks, statuses=sorted(set(statuses)))

    ten = [f"ten-{slug}" for slug, _ in ten_rules(final)]
    table = {
        "rowcount_1k": lambda: run("rowcount-1k"),
        "nullcount_1k": lambda: run("nullcount-1k"),
        "ten_100k_separate": lambda: run(*ten),
        "ten_100k_python": lambda: run("python-100k"),
    }
    if final:
        table["ten_100k_suite"] = lambda: run("suite-100k")
    return table


def main() -> None:
    spec.claim_stdout()
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--today", action="store_true", help="import the form without rule suites")
    args = parser.parse_args()

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    final, notes = import_config(args.workdir, args.today)
    spec.serve(tasks(final), notes)


if __name__ == "__main__":
    main()
