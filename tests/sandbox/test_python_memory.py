"""A Python guest whose memory runs out where CPython cannot raise ``MemoryError`` to it.

A dataset of ~30 MB read by a checker limited to 40 or 48 MB: the host's JSON either cannot
be allocated in the guest at all (the component model traps on ``realloc``) or can, and then
turning it into a Python string fails inside the runtime, which aborts. On main the first was
a bare ``trap`` and the second "the checker called an operating-system function".
"""

from __future__ import annotations

import pytest

from checkers.sandbox import ErrorKind, Limits, Program, Sandbox, Status, get_sandbox
from checkers.sandbox.python.build import REPO_ROOT, build

BIG = {"big": {"columns": ["a"], "rows": [["x" * 1000] for _ in range(30_000)]}}
READS_BIG = "rows = datasets['big'].rows\nprint(len(rows))\n"


@pytest.fixture(scope="module")
def python_sandbox() -> Sandbox:
    build()
    return get_sandbox(REPO_ROOT / "var" / "wasm-cache")


@pytest.mark.parametrize("memory_mb", [40, 48], ids=["realloc refused", "MemoryError in the runtime"])
def test_running_out_of_memory_receiving_a_dataset_is_memory_limit(python_sandbox, memory_mb):
    outcome = python_sandbox.run(Program.from_python(READS_BIG), BIG, Limits(memory_bytes=memory_mb * 2**20))

    assert (outcome.status, outcome.error.kind) == (Status.ERROR, ErrorKind.MEMORY_LIMIT)
    assert outcome.error.detail == (
        f"memory_limit: the checker needs more than its {memory_mb} MB memory limit (it ran out where Python "
        "cannot raise MemoryError, most often while receiving a dataset: read fewer rows, or raise the limit)"
    )


def test_the_same_checker_with_room_reads_the_dataset(python_sandbox):
    outcome = python_sandbox.run(Program.from_python(READS_BIG), BIG, Limits(memory_bytes=128 * 2**20))

    assert (outcome.status, outcome.logs) == (Status.GREEN, "30000\n")
