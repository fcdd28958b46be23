"""Soda Core 3.5.6, warm: one ``Scan`` per task in this long-lived process, as SodaCL.

Run by ``run.py`` with ``.venvs/soda/bin/python``. A scan opens its own connection, builds its
queries and evaluates; that whole ``execute()`` is what is timed. ``run.py`` also writes
``CONFIG`` and ``CHECKS["rowcount_1k"]`` to files for the fresh-process run (``soda scan``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import spec

DATA_SOURCE = "peers"
CONFIG = f"""\
data_source {DATA_SOURCE}:
  type: postgres
  host: 127.0.0.1
  port: 5432
  username: malleable_peers_reader
  password: ""
  database: malleable_peers
  schema: public
"""

CHECKS = {
    "rowcount_1k": """\
checks for orders:
  - row_count > 0
""",
    "nullcount_1k": f"""\
checks for orders:
  - missing_count(email) < {spec.NULL_EMAILS_1K_BELOW}
""",
    "ten_100k": f"""\
checks for orders_100k:
  - row_count > 0
  - missing_count(email) < {spec.NULL_EMAILS_100K_BELOW}
  - min(amount) >= {spec.MIN_AMOUNT_AT_LEAST}
  - max(amount) <= {spec.MAX_AMOUNT_AT_MOST}
  - avg(amount) between {spec.AVG_AMOUNT[0]} and {spec.AVG_AMOUNT[1]}
  - distinct_status = {spec.STATUSES}:
      distinct_status expression: COUNT(DISTINCT status)
  - invalid_count(amount) = 0:
      valid min: {spec.AMOUNT_BOUNDS[0]}
      valid max: {spec.AMOUNT_BOUNDS[1]}
  - freshness(created_at) < {spec.FRESH_WITHIN_S // 86400}d
  - duplicate_count(id) = 0
  - refunded_over_500 < {spec.REFUNDED_OVER_500_BELOW}:
      refunded_over_500 query: |
        {spec.CUSTOM_SQL}
""",
}


def scan(checks: str) -> spec.Verdict:
    from soda.scan import Scan

    run = Scan()
    run.set_scan_definition_name("bench-peers")
    run.set_data_source_name(DATA_SOURCE)
    run.add_configuration_yaml_str(CONFIG)
    run.add_sodacl_yaml_str(checks)
    run.execute()
    results = run.get_scan_results()["checks"]
    passed = sum(1 for check in results if check["outcome"] == "pass")
    return spec.verdict(passed, len(results), errors=run.has_error_logs())


def main() -> None:
    spec.claim_stdout()
    from soda.scan import Scan  # noqa: F401  (imported once, before the first task)

    spec.serve({name: (lambda c=checks: scan(c)) for name, checks in CHECKS.items()})


if __name__ == "__main__":
    main()
