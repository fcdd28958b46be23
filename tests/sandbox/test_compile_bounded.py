"""Compiling is bounded: a user's module compiles in a child process with a time and a memory
limit, and the process that runs it only loads what that child wrote (issue 11, finding 5)."""

from __future__ import annotations

import subprocess

import pytest
import wasmtime

from checkers.sandbox import CompileLimits, ErrorKind, Program, Sandbox, SandboxError, Status, compiler
from tests.sandbox.big_module import straight_line_module
from tests.sandbox.wat import DATASETS, QUICK, REFERENCE

ONE_SECOND = CompileLimits(timeout_s=1.0)
# For modules that must compile: the limit counts the child's start too, slow on a busy machine.
ROOMY = CompileLimits(timeout_s=60.0)
SMALL_MEMORY = CompileLimits(timeout_s=120.0, memory_bytes=200 * 2**20)


@pytest.fixture(scope="module")
def attack() -> Program:
    return Program.from_wasm(straight_line_module())


@pytest.fixture
def children(monkeypatch) -> list[list[str]]:
    """The command line of every compile child started, to prove who compiled what."""
    started: list[list[str]] = []
    original = subprocess.Popen

    def spy(command, *args, **kwargs):
        started.append(command)
        return original(command, *args, **kwargs)

    monkeypatch.setattr(compiler.subprocess, "Popen", spy)
    return started


def test_a_module_past_the_time_limit_is_a_compile_limit_error_and_the_host_goes_on(tmp_path, attack):
    sandbox = Sandbox(tmp_path / "cache", ONE_SECOND)

    outcome = sandbox.run(attack, {}, QUICK)

    assert outcome.status == Status.ERROR
    assert outcome.error.kind == ErrorKind.COMPILE_LIMIT
    assert outcome.error.detail.startswith("compile_limit: this module did not compile within 1 s;")
    assert not list((tmp_path / "cache").iterdir()), "nothing half-compiled is cached"
    healthy = Sandbox(tmp_path / "cache", ROOMY).run(Program.from_wat(REFERENCE), DATASETS, QUICK)
    assert [m.text for m in healthy.messages] == ["fewer than 42"]


def test_a_module_past_the_memory_limit_is_refused_by_compile(tmp_path, attack):
    sandbox = Sandbox(tmp_path / "cache", SMALL_MEMORY)

    with pytest.raises(SandboxError) as refused:
        sandbox.compile(attack)

    assert refused.value.kind == ErrorKind.COMPILE_LIMIT
    assert "did not compile within 200 MB of memory" in refused.value.detail


def test_a_module_compiles_once_in_a_child_and_runs_load_it_from_the_cache(tmp_path, children):
    program = Program.from_wat(REFERENCE)
    Sandbox(tmp_path / "cache", ROOMY).compile(program)
    assert len(children) == 1
    assert children[0][1:3] == ["-m", "checkers.sandbox.compile_child"]

    restarted = Sandbox(tmp_path / "cache", ROOMY)  # another worker, same machine
    outcome = restarted.run(program, DATASETS, QUICK)

    assert outcome.status == Status.GREEN
    assert len(children) == 1, "the worker loaded the artifact and started no compiler"


def test_a_worker_whose_cache_lacks_the_module_compiles_it_in_the_child(tmp_path, children):
    outcome = Sandbox(tmp_path / "cache", ROOMY).run(Program.from_wat(REFERENCE), DATASETS, QUICK)

    assert outcome.status == Status.GREEN
    assert len(children) == 1


def test_without_a_cache_directory_the_child_still_compiles(children):
    outcome = Sandbox(None, ROOMY).run(Program.from_wat(REFERENCE), DATASETS, QUICK)

    assert [m.text for m in outcome.messages] == ["fewer than 42"]
    assert len(children) == 1


def test_an_invalid_module_is_invalid_module_with_wasmtimes_words(tmp_path):
    broken = Program.from_wasm(b"\0asm\x01\0\0\0\x01")

    outcome = Sandbox(tmp_path / "cache", ROOMY).run(broken, {}, QUICK)

    assert outcome.error.kind == ErrorKind.INVALID_MODULE
    assert "unexpected end-of-file" in outcome.error.detail


def test_python_programs_compile_nothing(tmp_path, children):
    Sandbox(tmp_path / "cache", ROOMY).compile(Program.from_python("ok('fine')"))

    assert children == []


def test_the_attack_module_is_valid_wasm(attack):
    wasmtime.Module.validate(wasmtime.Engine(), attack.code)
