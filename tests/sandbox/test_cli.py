"""``manage.py sandbox_run``: exit codes and ``--json`` exactly as docs/contracts.md states them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
CHECKER = FIXTURES / "few_null_emails.wat"
FEW = f"users_with_email_null={FIXTURES / 'users_few.json'}"
MANY = f"users_with_email_null={FIXTURES / 'users_many.json'}"

MESSAGE = "There should be less than 42 users in that state"
OUTCOME_KEYS = {"status", "messages", "error", "logs", "duration_ms", "fuel_used"}


@pytest.fixture
def sandbox_run(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "MALLEABLE_SANDBOX_CACHE_DIR": str(tmp_path / "cache")}
        return subprocess.run(
            [sys.executable, "manage.py", "sandbox_run", *map(str, args)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def test_green_exits_0_with_the_contract_json(sandbox_run):
    result = sandbox_run(CHECKER, "--dataset", FEW, "--json")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert set(outcome) == OUTCOME_KEYS
    assert outcome["status"] == "green"
    assert outcome["messages"] == [{"level": "ok", "text": MESSAGE}]
    assert outcome["error"] is None
    assert outcome["logs"] == ""
    assert isinstance(outcome["duration_ms"], float)
    assert isinstance(outcome["fuel_used"], int)
    assert outcome["fuel_used"] > 0


def test_red_exits_1(sandbox_run):
    result = sandbox_run(CHECKER, "--dataset", MANY, "--json")
    assert result.returncode == 1
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "red"
    assert [m["level"] for m in outcome["messages"]] == ["fail"]


def test_contained_error_exits_2_with_kind_and_detail(sandbox_run):
    result = sandbox_run(FIXTURES / "spin.wat", "--timeout", "0.3", "--json")
    assert result.returncode == 2
    outcome = json.loads(result.stdout)
    assert set(outcome) == OUTCOME_KEYS
    assert outcome["status"] == "error"
    assert outcome["error"] == {"kind": "timeout", "detail": "timeout: the checker ran past its 0.3 s limit"}


def test_fuel_flag_limits_instructions(sandbox_run):
    result = sandbox_run(FIXTURES / "count.wat", "--fuel", "10000", "--json")
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"]["kind"] == "fuel_exhausted"


def test_memory_flag_limits_memory(sandbox_run, tmp_path):
    big = tmp_path / "big.wat"
    big.write_text('(module (memory (export "memory") 100) (func (export "check")))')  # 6.25 MB
    refused = sandbox_run(big, "--memory", "4", "--json")
    assert refused.returncode == 2
    assert json.loads(refused.stdout)["error"]["kind"] == "memory_limit"
    assert sandbox_run(big, "--memory", "8").returncode == 0


def test_missing_dataset_is_a_contained_error(sandbox_run):
    result = sandbox_run(CHECKER, "--json")
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"]["kind"] == "unknown_dataset"


def test_readable_summary_without_json(sandbox_run):
    result = sandbox_run(CHECKER, "--dataset", MANY)
    assert result.returncode == 1
    assert result.stdout.startswith(f"RED  {CHECKER}")
    assert f"  fail  {MESSAGE}" in result.stdout


def test_summary_shows_the_error(sandbox_run):
    result = sandbox_run(FIXTURES / "spin.wat", "--timeout", "0.2")
    assert result.returncode == 2
    assert "error: timeout: the checker ran past its 0.2 s limit" in result.stdout


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["missing.wat"], "cannot read"),
        (["README.txt"], "must end in .wasm, .wat or .py"),
        ([CHECKER, "--dataset", "no-equals-sign"], "expected NAME=FILE.json"),
        ([CHECKER, "--dataset", "x=/nonexistent.json"], "cannot read"),
        ([CHECKER, "--dataset", f"x={CHECKER}"], "is not JSON"),
        ([CHECKER, "--dataset", f"x={FIXTURES / 'not_a_dataset.json'}"], "must hold"),
        ([CHECKER, "--dataset", FEW, "--dataset", FEW], "more than once"),
        ([CHECKER, "--timeout", "-1"], "--timeout must be"),
        ([CHECKER, "--timeout", "inf"], "--timeout must be"),
        ([CHECKER, "--memory", "0"], "--memory must be"),
        ([CHECKER, "--fuel", "0"], "--fuel must be"),
        ([CHECKER, "--timeout", "soon"], "invalid float value"),
        ([CHECKER, "--no-such-flag"], "unrecognized arguments"),
        ([], "the following arguments are required: path"),
    ],
)
def test_bad_usage_and_unreadable_input_exit_64(sandbox_run, args, complaint):
    result = sandbox_run(*args)
    assert result.returncode == 64, (result.stdout, result.stderr)
    assert complaint in result.stderr
    assert result.stdout == ""


def test_bad_usage_in_process_raises_command_error_with_64():
    with pytest.raises(CommandError) as raised:
        call_command("sandbox_run", str(FIXTURES / "missing.wat"))
    assert raised.value.returncode == 64


def test_green_in_process_writes_json(capsys, settings, tmp_path):
    settings.SANDBOX_CACHE_DIR = tmp_path
    call_command("sandbox_run", str(CHECKER), "--dataset", FEW, "--json")
    assert json.loads(capsys.readouterr().out)["status"] == "green"


def test_a_dataset_file_may_say_its_rows_were_cut(capsys, settings, tmp_path):
    settings.SANDBOX_CACHE_DIR = tmp_path
    cut, whole = tmp_path / "cut.json", tmp_path / "whole.json"
    cut.write_text(json.dumps({"columns": ["id"], "rows": [[1], [2]], "truncated": True}))
    whole.write_text(json.dumps({"columns": ["id"], "rows": [[1], [2]]}))
    checker = tmp_path / "sample.py"
    checker.write_text(
        "print(datasets['cut'].truncated, datasets['whole'].truncated, len(datasets['cut']))\n"
    )
    call_command(
        "sandbox_run", str(checker), "--dataset", f"cut={cut}", "--dataset", f"whole={whole}", "--json"
    )
    assert json.loads(capsys.readouterr().out)["logs"] == "True False 2\n"


def test_truncated_in_a_dataset_file_must_be_true_or_false(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"columns": ["id"], "rows": [], "truncated": "yes"}))
    with pytest.raises(CommandError) as raised:
        call_command("sandbox_run", str(CHECKER), "--dataset", f"cut={bad}")
    assert raised.value.returncode == 64
    assert str(raised.value) == f'--dataset cut: "truncated" in {bad} must be true or false'
