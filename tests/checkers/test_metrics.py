"""``metric(name, value)``: named numbers a code checker records, kept with the run like a
rule's figures and charted on the checker's page; the same host call for core modules."""

from __future__ import annotations

import pytest
from django.conf import settings

from checkers import runs
from checkers.sandbox import Limits, Program, get_sandbox

pytestmark = pytest.mark.django_db

METRICS_PYTHON = """\
users = datasets['users_with_email_null']
metric('null e-mails', len(users))
metric('share', len(users) / 40)
metric('share', len(users) / 20)
CheckerCase().assertLessThan(users, 42, 'few')
"""

WAT_METRIC = """
(module
 (import "malleable" "metric" (func $metric (param i32 i32 f64)))
 (memory (export "memory") 1)
 (data (i32.const 0) "rows")
 (func (export "check") (call $metric (i32.const 0) (i32.const 4) (f64.const 12.5))))
"""


@pytest.fixture
def python(seed, shop):
    shop.set_null_emails(10)
    _, checker = seed
    checker.source = METRICS_PYTHON
    checker.save(update_fields=["source"])
    return checker


def test_a_python_checkers_metrics_are_kept_with_the_run(python):
    run = runs.execute(python)

    assert run.status == "green"
    # The last value of a name wins.
    assert run.figures == {"null e-mails": 10.0, "share": 0.5}


def test_the_checker_page_charts_the_metrics(python, shop, personas, login):
    runs.execute(python)
    shop.set_null_emails(30)
    runs.execute(python)

    content = login(personas.viewer).get(python.get_absolute_url()).content.decode()

    assert 'aria-label="null e-mails over the last 2 runs: from 10 to 30, now 30"' in content
    assert 'aria-label="share over the last 2 runs: from 0.5 to 1.5, now 1.5"' in content


@pytest.mark.parametrize(
    ("source", "kind", "detail"),
    [
        (
            "metric('x', float('nan'))",
            "python_exception",
            "ValueError: metric() takes a finite number, not nan",
        ),
        ("metric('x', 'many')", "python_exception", "TypeError: metric() takes a number, not str"),
        ("metric(' ', 1)", "output_limit", "metric: a name of 1 to 100 characters"),
        ("for i in range(101): metric(f'm{i}', i)", "output_limit", "a run records at most 100 metrics"),
    ],
)
def test_a_bad_metric_says_what_is_wrong(source, kind, detail):
    outcome = get_sandbox(settings.SANDBOX_CACHE_DIR).run(Program.from_python(source + "\n"), {}, Limits())
    assert outcome.error.kind == kind
    assert detail in outcome.error.detail


def test_a_core_module_records_a_metric_through_the_abi():
    outcome = get_sandbox(settings.SANDBOX_CACHE_DIR).run(Program.from_wat(WAT_METRIC), {}, Limits())

    assert str(outcome.status) == "green"
    assert outcome.metrics == {"rows": 12.5}
    assert outcome.to_dict()["metrics"] == {"rows": 12.5}
