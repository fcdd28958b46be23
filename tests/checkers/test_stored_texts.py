"""Guest text that PostgreSQL refuses or that has no end is stored cleaned and cut, never refused.

Malleable's own database is PostgreSQL in CI (``DATABASE_URL``; the stored texts are the
same on any database): on main a NUL in ``fail()``, ``print()`` or an exception made the
run's INSERT fail (500 on *Run now*, and a worker left the run ``running``), and a 40 MB
exception message was stored whole.
"""

from __future__ import annotations

from checkers import runs
from checkers.models import Checker, CheckerKind, CheckRun, RunStatus, Trigger
from checkers.tasks import run_checker

NUL_EVERYWHERE = 'fail("a\\x00b")\nprint("c\\x00d")\nraise ValueError("e\\x00f")\n'
HUGE_EXCEPTION = 'raise ValueError("x" * 40_000_000)\n'
# The detail's head, before the 40,000,000 x's: the guest's traceback of line 1.
HUGE_HEAD = (
    "python_exception: Traceback (most recent call last):\n"
    '  File "<checker>", line 1, in <module>\n'
    '    raise ValueError("x" * 40_000_000)\n'
    "ValueError: "
)


def python_checker(personas, source: str) -> Checker:
    return Checker.objects.create(
        namespace=personas.a,
        slug="noisy",
        name="Noisy",
        kind=CheckerKind.PYTHON,
        source=source,
        schedule_every=300,
    )


def test_a_nul_in_fail_print_and_an_exception_is_stored_cleaned(personas):
    run = runs.execute(python_checker(personas, NUL_EVERYWHERE))

    run = CheckRun.objects.get(pk=run.pk)
    assert (run.status, run.error_kind) == ("error", "python_exception")
    assert run.messages == [{"level": "fail", "text": "a\ufffdb"}]
    assert run.logs == "c\ufffdd\n"
    assert run.error_detail == (
        "python_exception: Traceback (most recent call last):\n"
        '  File "<checker>", line 3, in <module>\n'
        '    raise ValueError("e\\x00f")\n'
        "ValueError: e\ufffdf"
    )


def test_run_now_of_a_checker_printing_nul_answers_and_records_the_run(personas, login):
    checker = python_checker(personas, NUL_EVERYWHERE)

    response = login(personas.editor).post(f"/n/alpha/checkers/{checker.slug}/run/")

    assert response.status_code == 302
    assert list(CheckRun.objects.values_list("status", "error_kind")) == [("error", "python_exception")]


def test_the_worker_records_a_run_with_nul_instead_of_leaving_it_running(personas):
    checker = python_checker(personas, NUL_EVERYWHERE)
    run = CheckRun.objects.create(checker=checker, trigger=Trigger.SCHEDULE)

    run_checker(run.pk)

    run.refresh_from_db()
    assert (run.status, run.messages) == (RunStatus.ERROR, [{"level": "fail", "text": "a\ufffdb"}])


def test_a_40_mb_error_detail_is_stored_cut_with_a_marker(personas):
    run = runs.execute(python_checker(personas, HUGE_EXCEPTION))

    run = CheckRun.objects.get(pk=run.pk)
    assert run.error_kind == "python_exception"
    kept = 64 * 1024 - len(HUGE_HEAD)
    assert run.error_detail == HUGE_HEAD + "x" * kept + f"\n[cut: {40_000_000 - kept:,} bytes more]"
    assert run.error_detail.endswith("\n[cut: 39,934,608 bytes more]")


def test_the_checker_page_of_a_run_with_a_40_mb_error_stays_small(personas, login):
    checker = python_checker(personas, HUGE_EXCEPTION)
    runs.execute(checker)

    response = login(personas.viewer).get(f"/n/alpha/checkers/{checker.slug}/")

    assert response.status_code == 200
    assert len(response.content) < 1024 * 1024
