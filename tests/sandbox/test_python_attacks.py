"""Python checkers that try to escape, hang or exhaust the host.

Each ends as an ``error`` of one exact kind, within its timeout + 1 s, reveals nothing of
the host, and leaves the process able to run the next checker correctly.
"""

from __future__ import annotations

import time

import pytest

from checkers.sandbox import ErrorKind, Limits, Program, Sandbox, Status, get_sandbox
from checkers.sandbox.python.build import REPO_ROOT, build

# A cut is proved by the error kind and the limit it names; time only bounds a hang, loosely,
# so a loaded machine cannot fail the test.
GENEROUS_S = 60

SEED = "CheckerCase().assertLessThan(datasets['users_with_email_null'], 42, 'fewer than 42')"
DATASETS = {"users_with_email_null": {"columns": ["username"], "rows": [["ada"], ["bob"]]}}

DEFAULT = Limits()
UNMETERED = Limits(timeout_s=1.0, fuel=10**13)
# The default fuel with a wall clock only fuel can beat: at the default 5 s, a loaded machine
# reaches the clock before the 20 billion units (2-3 s of a free core) are spent.
DEFAULT_FUEL = Limits(timeout_s=GENEROUS_S)
SMALL_MEMORY = Limits(memory_bytes=64 * 2**20)
BELOW_CPYTHON = Limits(memory_bytes=2**20)

REAL_OS = "os = ok.__globals__['__builtins__']['__import__']('os')\n"
FILE_IO = (
    "def walk(cls):\n"
    "    for sub in type.__subclasses__(cls):\n"
    "        yield sub\n"
    "        yield from walk(sub)\n"
    "FileIO = next(c for c in walk(object) if c.__name__ == 'FileIO')\n"
)

ATTACKS = {
    # name: (source, limits, kind, words the detail must contain)
    "busy loop, default fuel": ("while True: pass", DEFAULT_FUEL, ErrorKind.FUEL_EXHAUSTED, "fuel"),
    "busy loop, unmetered": ("while True: pass", UNMETERED, ErrorKind.TIMEOUT, "1 s limit"),
    "sleep": ("import time\ntime.sleep(100)", DEFAULT, ErrorKind.PYTHON_EXCEPTION, "cannot wait"),
    "10 GB string": ("'x' * 10**10", DEFAULT, ErrorKind.MEMORY_LIMIT, "256 MB"),
    "1 GB string": ("x = 'x' * 10**9", DEFAULT, ErrorKind.MEMORY_LIMIT, "MemoryError"),
    "growing list": (
        "a = []\nwhile True:\n    a.append('x' * 1000)",
        SMALL_MEMORY,
        ErrorKind.MEMORY_LIMIT,
        "64 MB",
    ),
    "memory below CPython's own": ("pass", BELOW_CPYTHON, ErrorKind.MEMORY_LIMIT, "memory limit"),
    "runaway recursion": (
        "import sys\nsys.setrecursionlimit(10**6)\ndef f(n):\n    return f(n + 1) + 1\nf(0)",
        DEFAULT,
        ErrorKind.STACK_OVERFLOW,
        "RecursionError",
    ),
    "recursion in C": (
        "import sys\nsys.setrecursionlimit(10**6)\nx = []\nfor _ in range(10**5):\n    x = [x]\nrepr(x)",
        DEFAULT,
        ErrorKind.STACK_OVERFLOW,
        "recursion",
    ),
    "open a file": ("open('/etc/passwd')", DEFAULT, ErrorKind.PYTHON_EXCEPTION, "PermissionError"),
    "import socket": (
        "import socket",
        DEFAULT,
        ErrorKind.PYTHON_EXCEPTION,
        "module 'socket' is not available",
    ),
    "environment": (
        "import os\nos.environ",
        DEFAULT,
        ErrorKind.PYTHON_EXCEPTION,
        "module 'os' is not available",
    ),
    "__import__ subprocess": (
        "__import__('subprocess')",
        DEFAULT,
        ErrorKind.PYTHON_EXCEPTION,
        "module 'subprocess' is not available",
    ),
    "import an unbundled module past the hook": (
        "ok.__globals__['__builtins__']['__import__']('socket')",
        DEFAULT,
        ErrorKind.PYTHON_EXCEPTION,
        "PermissionError: import is not available",
    ),
    "FileIO found through object subclasses": (
        FILE_IO + "print(FileIO('/etc/passwd').read())",
        DEFAULT,
        ErrorKind.PYTHON_EXCEPTION,
        "PermissionError: open is not available",
    ),
    "list a directory with the real os": (
        REAL_OS + "print(os.listdir('/'))",
        DEFAULT,
        ErrorKind.PYTHON_EXCEPTION,
        "os.listdir is not available",
    ),
    "stat a file with the real os": (
        REAL_OS + "print(os.stat('/etc/passwd'))",
        DEFAULT,
        ErrorKind.TRAP,
        "operating-system function",
    ),
    "a flood of messages": (
        "for i in range(5000):\n    ok(i)",
        DEFAULT,
        ErrorKind.OUTPUT_LIMIT,
        "1000 messages",
    ),
    "one 60 MB message": ("fail('x' * 60_000_000)", DEFAULT, ErrorKind.OUTPUT_LIMIT, "60000000 bytes"),
    "syntax error": ("x = 1\ny = (\nz = 3\n", DEFAULT, ErrorKind.PYTHON_EXCEPTION, "SyntaxError at line 2"),
    "indentation error": (
        "x = 1\n  y = 2\n",
        DEFAULT,
        ErrorKind.PYTHON_EXCEPTION,
        "IndentationError at line 2",
    ),
}


@pytest.fixture(scope="module")
def python_sandbox() -> Sandbox:
    """The built component (built now if missing or stale) behind the shared on-disk cache."""
    build()
    return get_sandbox(REPO_ROOT / "var" / "wasm-cache")


def assert_next_run_is_correct(sandbox: Sandbox) -> None:
    outcome = sandbox.run(Program.from_python(SEED), DATASETS, DEFAULT)
    assert outcome.status == Status.GREEN, outcome.to_dict()
    assert [m.text for m in outcome.messages] == ["fewer than 42 (2 rows in users_with_email_null < 42)"]


@pytest.mark.parametrize(("source", "limits", "kind", "words"), ATTACKS.values(), ids=ATTACKS.keys())
def test_attack_is_contained(python_sandbox, source, limits, kind, words):
    python_sandbox.run(Program.from_python("pass"), {}, DEFAULT)  # the component is loaded before timing
    started = time.monotonic()
    outcome = python_sandbox.run(Program.from_python(source), DATASETS, limits)
    elapsed = time.monotonic() - started
    assert outcome.status == Status.ERROR, outcome.to_dict()
    assert outcome.error.kind == kind, outcome.to_dict()
    assert words in outcome.error.detail
    if kind == ErrorKind.TIMEOUT:
        assert outcome.error.detail == f"timeout: the checker ran past its {limits.timeout_s:g} s limit"
    assert elapsed < limits.timeout_s + GENEROUS_S  # only that it ended; the kind says why
    assert "root:" not in outcome.to_dict().__repr__()
    assert_next_run_is_correct(python_sandbox)


def test_syntax_error_quotes_the_line(python_sandbox):
    outcome = python_sandbox.run(Program.from_python("x = 1\ny = (\nz = 3\n"), DATASETS, DEFAULT)
    assert outcome.error.detail == (
        "python_exception: SyntaxError at line 2: '(' was never closed\n"
        '  File "<checker>", line 2\n'
        "    y = (\n"
        "        ^"
    )


def test_a_flood_of_prints_is_truncated_not_an_error(python_sandbox):
    limits = Limits(output_bytes=10_000)
    outcome = python_sandbox.run(
        Program.from_python("for i in range(10**5):\n    print(i)"), DATASETS, limits
    )
    assert outcome.status == Status.GREEN, outcome.to_dict()
    assert outcome.logs.startswith("0\n1\n2\n")
    assert "[log truncated" in outcome.logs
    assert len(outcome.logs) < 10_200


def test_the_environment_inside_is_empty(python_sandbox):
    outcome = python_sandbox.run(Program.from_python(REAL_OS + "print(dict(os.environ))"), DATASETS, DEFAULT)
    assert outcome.status == Status.GREEN
    assert outcome.logs == "{}\n"


def test_sys_is_a_narrow_view(python_sandbox):
    source = "import sys\nprint(hasattr(sys, 'modules'), hasattr(sys, 'path'), sys.getrecursionlimit() > 0)"
    outcome = python_sandbox.run(Program.from_python(source), DATASETS, DEFAULT)
    assert outcome.logs == "False False True\n"


def test_a_checker_cannot_leave_state_for_the_next_run(python_sandbox):
    first = "import json\njson.dumps = None\nCheckerCase.assertLessThan = None\nprint('tampered')"
    assert python_sandbox.run(Program.from_python(first), DATASETS, DEFAULT).logs == "tampered\n"
    outcome = python_sandbox.run(Program.from_python("import json\n" + SEED), DATASETS, DEFAULT)
    assert outcome.status == Status.GREEN, outcome.to_dict()
