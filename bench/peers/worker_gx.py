"""Great Expectations Core 1.24.1, warm: one ephemeral context, a validation definition per task.

Run by ``run.py`` with ``.venvs/gx/bin/python``. The context, the PostgreSQL datasource, its
table assets and the suites are built once; a task is ``ValidationDefinition.run()`` with
GX's default result format (SUMMARY, which reports observed values, as Malleable's messages
and Soda's results do). ``--once TASK`` builds the context, runs TASK once and exits (0 when
every expectation held): the fresh-process run. Analytics are off: nothing leaves the machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import spec

URL = "postgresql+psycopg2://malleable_peers_reader@127.0.0.1:5432/malleable_peers"


def expectations(task: str) -> tuple[str, list[Any]]:
    """The table a task reads and its expectations."""
    import great_expectations.expectations as gxe

    if task == "rowcount_1k":
        return "orders", [gxe.ExpectTableRowCountToBeBetween(min_value=1)]
    if task == "nullcount_1k":
        # nulls < 100 of 1,000  <=>  at least 901 non-null  <=>  mostly 0.901
        return "orders", [gxe.ExpectColumnValuesToNotBeNull(column="email", mostly=0.901)]
    low, high = spec.AMOUNT_BOUNDS
    # Built from spec's constants; {batch} is GX's placeholder for the table.
    stale = (
        "SELECT newest FROM (SELECT max(created_at) AS newest FROM {batch}) AS t"  # noqa: S608
        f" WHERE newest < now() - interval '{spec.FRESH_WITHIN_S} seconds'"
    )
    custom = (
        f"SELECT n FROM ({spec.CUSTOM_SQL.replace('orders_100k', '{batch}')}) AS t(n)"  # noqa: S608
        f" WHERE n >= {spec.REFUNDED_OVER_500_BELOW}"
    )
    return "orders_100k", [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        # nulls < 10,000 of 100,000  <=>  at least 90,001 non-null
        gxe.ExpectColumnValuesToNotBeNull(column="email", mostly=0.90001),
        gxe.ExpectColumnMinToBeBetween(column="amount", min_value=spec.MIN_AMOUNT_AT_LEAST),
        gxe.ExpectColumnMaxToBeBetween(column="amount", max_value=spec.MAX_AMOUNT_AT_MOST),
        gxe.ExpectColumnMeanToBeBetween(
            column="amount", min_value=spec.AVG_AMOUNT[0], max_value=spec.AVG_AMOUNT[1]
        ),
        gxe.ExpectColumnUniqueValueCountToBeBetween(
            column="status", min_value=spec.STATUSES, max_value=spec.STATUSES
        ),
        gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=low, max_value=high),
        gxe.UnexpectedRowsExpectation(unexpected_rows_query=stale, description="freshness of created_at"),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.UnexpectedRowsExpectation(unexpected_rows_query=custom, description="refunded over 500"),
    ]


def build(tasks: list[str]) -> dict[str, Any]:
    """One context; a validation definition per task, ready to run."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_postgres(name="peers", connection_string=URL)
    batches = {}
    definitions = {}
    for task in tasks:
        table, expected = expectations(task)
        if table not in batches:
            asset = source.add_table_asset(name=table, table_name=table)
            batches[table] = asset.add_batch_definition_whole_table(f"{table}-whole")
        suite = context.suites.add(gx.ExpectationSuite(name=task, expectations=expected))
        definitions[task] = context.validation_definitions.add(
            gx.ValidationDefinition(name=task, data=batches[table], suite=suite)
        )
    return definitions


def validate(definition: Any) -> spec.Verdict:
    result = definition.run()
    return spec.verdict(sum(1 for r in result.results if r.success), len(result.results))


TASKS = ["rowcount_1k", "nullcount_1k", "ten_100k"]


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--once":
        outcome = validate(build([sys.argv[2]])[sys.argv[2]])
        print(outcome)
        sys.exit(0 if outcome["passed"] == outcome["checks"] else 1)
    spec.claim_stdout()
    definitions = build(TASKS)
    spec.serve({task: (lambda d=definition: validate(d)) for task, definition in definitions.items()})


if __name__ == "__main__":
    main()
