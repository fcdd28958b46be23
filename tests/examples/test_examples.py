"""The example checkers give the same verdict, in every language, on the same datasets.

`make -C examples` runs once per session, so a clean checkout builds what its toolchains
allow. A language whose toolchain is absent is skipped with the reason here, and fails
instead where it is required: C and AssemblyScript when ``MALLEABLE_REQUIRE_SERVICES=1``
(CI), plus any language named in ``MALLEABLE_REQUIRE_EXAMPLES`` (comma-separated).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from checkers.sandbox import Program, get_sandbox
from checkers.sandbox.outcome import ErrorKind, Level, Outcome, Status

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DATASET = "users_with_email_null"
MESSAGE = "There should be less than 42 users in that state"

# Language -> the file the sandbox runs. WAT and Python run from source.
CHECKERS = {
    "wat": EXAMPLES / "wat" / "few_null_emails.wat",
    "python": EXAMPLES / "python" / "few_null_emails.py",
    "c": EXAMPLES / "build" / "c" / "few_null_emails.wasm",
    "assemblyscript": EXAMPLES / "build" / "assemblyscript" / "few_null_emails.wasm",
    "rust": EXAMPLES / "build" / "rust" / "few_null_emails.wasm",
}
COMPILED = ("c", "assemblyscript", "rust")
REQUIRED_IN_CI = ("c", "assemblyscript")


def _users(count: int) -> dict[str, Any]:
    return json.loads((EXAMPLES / "datasets" / f"users_{count}.json").read_text())


CASES = {
    "50 rows": {DATASET: _users(50)},
    "10 rows": {DATASET: _users(10)},
    "no dataset": {},
}


def _required() -> set[str]:
    required = {name.strip() for name in os.environ.get("MALLEABLE_REQUIRE_EXAMPLES", "").split(",")}
    if os.environ.get("MALLEABLE_REQUIRE_SERVICES", "").lower() in ("1", "true", "yes", "on"):
        required.update(REQUIRED_IN_CI)
    return required - {""}


@pytest.fixture(scope="session")
def make_output() -> str:
    """Builds every example whose toolchain is here; a toolchain that is here but fails, fails."""
    result = subprocess.run(
        ["make", "-C", str(EXAMPLES)], capture_output=True, text=True, timeout=600, check=False
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"make -C examples failed (exit {result.returncode}):\n{output}", pytrace=False)
    return output


def _checker_path(language: str, make_output: str) -> Path:
    path = CHECKERS[language]
    if path.exists():
        return path
    reason = next(
        (line for line in make_output.splitlines() if line.startswith(f"examples: skipped {language}:")),
        f"make -C examples did not build {path}",
    )
    message = f"{reason}\nInstall the toolchain, then run `make examples` (docs/checkers.md)."
    if language in _required():
        pytest.fail(f"the {language} example is required here but was not built: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def programs(make_output: str) -> dict[str, Program]:
    """Each built language's program, compiled once for the session."""
    return {language: Program.from_path(path) for language, path in CHECKERS.items() if path.exists()}


def _program(language: str, programs: dict[str, Program], make_output: str) -> Program:
    _checker_path(language, make_output)
    return programs[language]


def _run(program: Program, datasets: dict[str, Any]) -> Outcome:
    """Through the process's sandbox and on-disk cache, as `sandbox_run` and the workers run."""
    return get_sandbox(Path(settings.SANDBOX_CACHE_DIR)).run(program, datasets)


def _own_text(language: str, text: str) -> str:
    """The checker's own words: Python's CheckerCase adds what it compared, in parentheses.

    `assertLessThan(users, 42, MESSAGE)` records "MESSAGE (50 rows in users_with_email_null,
    expected < 42)"; the other SDKs send MESSAGE as it is.
    """
    if language == "python" and text.startswith(f"{MESSAGE} (") and text.endswith(")"):
        return MESSAGE
    return text


def _assertions(language: str, outcome: Outcome) -> list[tuple[str, str]]:
    """ok and fail messages, in order, in the checker's own words; log lines are left out."""
    return [(str(m.level), _own_text(language, m.text)) for m in outcome.messages if m.level != Level.LOG]


def _verdict(language: str, outcome: Outcome) -> tuple[str, tuple[tuple[str, str], ...], str | None]:
    """What must agree across languages: status, assertions, error kind."""
    kind = str(outcome.error.kind) if outcome.error else None
    return str(outcome.status), tuple(_assertions(language, outcome)), kind


def _logs(outcome: Outcome) -> list[str]:
    return [m.text for m in outcome.messages if m.level == Level.LOG]


@pytest.mark.parametrize("language", CHECKERS)
def test_too_many_users_is_red_with_the_seed_message(language, programs, make_output):
    outcome = _run(_program(language, programs, make_output), CASES["50 rows"])

    assert outcome.status == Status.RED, outcome.to_dict()
    assert outcome.error is None
    assert _assertions(language, outcome) == [("fail", MESSAGE)]


@pytest.mark.parametrize("language", CHECKERS)
def test_few_users_is_green(language, programs, make_output):
    outcome = _run(_program(language, programs, make_output), CASES["10 rows"])

    assert outcome.status == Status.GREEN, outcome.to_dict()
    assert outcome.error is None
    assert _assertions(language, outcome) == [("ok", MESSAGE)]


@pytest.mark.parametrize("language", CHECKERS)
def test_missing_dataset_is_an_unknown_dataset_error(language, programs, make_output):
    outcome = _run(_program(language, programs, make_output), CASES["no dataset"])

    assert outcome.status == Status.ERROR, outcome.to_dict()
    assert outcome.error.kind == ErrorKind.UNKNOWN_DATASET
    assert DATASET in outcome.error.detail
    assert _assertions(language, outcome) == []


@pytest.mark.parametrize("case", CASES)
def test_every_language_gives_the_same_verdict(case, programs, make_output):
    for language in _required():
        _checker_path(language, make_output)
    verdicts = {
        language: _verdict(language, _run(program, CASES[case])) for language, program in programs.items()
    }

    assert len(verdicts) >= 2, f"only {sorted(verdicts)} could be built"
    assert len(set(verdicts.values())) == 1, json.dumps(verdicts, indent=2)


@pytest.mark.parametrize("language", COMPILED)
def test_compiled_examples_read_the_dataset_as_json_through_alloc(language, programs, make_output):
    """`dataset` makes the host call the guest's `alloc`: the byte count proves the copy arrived."""
    outcome = _run(_program(language, programs, make_output), CASES["50 rows"])
    lines = [line for line in _logs(outcome) if "bytes of JSON" in line]

    assert len(lines) == 1, outcome.to_dict()
    match = re.fullmatch(rf"{DATASET}: 50 rows, (\d+) bytes of JSON", lines[0])
    assert match, lines[0]
    assert int(match.group(1)) >= len(json.dumps(CASES["50 rows"][DATASET], separators=(",", ":")))


def test_compiled_examples_see_the_same_json(programs, make_output):
    built = [language for language in COMPILED if CHECKERS[language].exists()]
    for language in _required():
        _checker_path(language, make_output)
    lines = {
        language: [line for line in _logs(_run(programs[language], CASES["50 rows"])) if "JSON" in line]
        for language in built
    }

    assert len(set(map(tuple, lines.values()))) == 1, lines


def test_c_example_logs_the_host_clock(programs, make_output):
    before = int(time.time() * 1000)
    outcome = _run(_program("c", programs, make_output), CASES["10 rows"])
    after = int(time.time() * 1000)

    stamps = [re.fullmatch(r"checked at (\d+) ms since the epoch", line) for line in _logs(outcome)]
    stamps = [int(m.group(1)) for m in stamps if m]
    assert len(stamps) == 1, outcome.to_dict()
    assert before <= stamps[0] <= after


def _sandbox_run(path: Path, *datasets: str) -> tuple[int, dict[str, Any]]:
    args = [sys.executable, str(REPO / "manage.py"), "sandbox_run", str(path), "--json"]
    for count in datasets:
        args += ["--dataset", f"{DATASET}={EXAMPLES / 'datasets' / f'users_{count}.json'}"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_sandbox_run_exit_codes_follow_the_verdict(make_output):
    path = _checker_path("c", make_output)

    code, red = _sandbox_run(path, "50")
    assert (code, red["status"]) == (1, "red"), red
    assert {"level": "fail", "text": MESSAGE} in red["messages"]
    assert red["error"] is None
    assert set(red) >= {"status", "messages", "error", "logs", "duration_ms", "fuel_used"}

    code, green = _sandbox_run(path, "10")
    assert (code, green["status"]) == (0, "green"), green

    code, error = _sandbox_run(path)
    assert (code, error["status"], error["error"]["kind"]) == (2, "error", "unknown_dataset"), error


def test_make_says_which_languages_it_skipped_and_why(tmp_path):
    result = subprocess.run(
        ["make", "-C", str(EXAMPLES), f"BUILD={tmp_path}", "CLANG=no-such-clang", "RUSTC=/no/such/rustc"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "examples: skipped c: no-such-clang not found: apt-get install -y clang lld" in result.stdout
    assert "examples: skipped rust: /no/such/rustc not found" in result.stdout
    assert (tmp_path / "wat" / "few_null_emails.wat").exists()


def test_a_required_example_that_was_not_built_fails_instead_of_skipping(monkeypatch, tmp_path):
    monkeypatch.setitem(CHECKERS, "c", tmp_path / "missing.wasm")
    make_output = "examples: skipped c: clang not found: apt-get install -y clang lld\n"

    monkeypatch.setenv("MALLEABLE_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="clang not found"):
        _checker_path("c", make_output)

    monkeypatch.delenv("MALLEABLE_REQUIRE_SERVICES")
    monkeypatch.setenv("MALLEABLE_REQUIRE_EXAMPLES", "")
    with pytest.raises(pytest.skip.Exception, match="run `make examples`"):
        _checker_path("c", make_output)
