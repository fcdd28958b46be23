"""The worker outlives its guests: memory stays bounded across attacks, and runs on several
threads at once each get their own verdict."""

from __future__ import annotations

import gc
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from checkers.sandbox import ErrorKind, Limits, Program, Status
from tests.sandbox.test_abi import ECHO_DATASET
from tests.sandbox.test_attacks import (
    DEEP_RECURSION,
    FLOOD,
    GROW_UNTIL_REFUSED,
    HUGE_MEMORY,
    INFINITE_LOOP,
    SIXTY_MB_MESSAGE,
    _message,
)
from tests.sandbox.wat import DATASETS, QUICK, REFERENCE

MB = 1024 * 1024


@pytest.fixture
def no_gc():
    """Memory must come back when the run ends, not when the cyclic collector gets round to it."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_repeated_attacks_leave_memory_bounded(sandbox, assert_healthy, no_gc):
    limits = Limits(timeout_s=2, memory_bytes=128 * MB)
    attacks = [GROW_UNTIL_REFUSED, HUGE_MEMORY, DEEP_RECURSION, SIXTY_MB_MESSAGE, FLOOD, _message("0", "-1")]
    programs = [Program.from_wat(source) for source in attacks]
    big = {"users": {"columns": ["id", "email"], "rows": [[i, "x" * 50] for i in range(20_000)]}}
    echo = Program.from_wat(ECHO_DATASET)

    def round_of_attacks() -> None:
        for program in programs:
            assert sandbox.run(program, DATASETS, limits).status == Status.ERROR
        sandbox.run(echo, big, limits)

    for _ in range(3):
        round_of_attacks()
    before = _rss()
    for _ in range(10):
        round_of_attacks()
    growth = _rss() - before
    assert growth < 32 * MB, f"RSS grew by {growth / MB:.0f} MB over 10 rounds of attacks"
    assert_healthy()


def test_a_guest_touching_its_memory_gives_it_back(sandbox, no_gc):
    # The bomb touches one word per 64 KB page: ~12 MB of RSS per run if a store outlived it.
    program = Program.from_wat(GROW_UNTIL_REFUSED)
    sandbox.run(program, DATASETS, Limits(memory_bytes=200 * MB))
    before = _rss()
    for _ in range(5):
        outcome = sandbox.run(program, DATASETS, Limits(memory_bytes=200 * MB))
        assert outcome.error.kind == ErrorKind.MEMORY_LIMIT
    assert _rss() - before < 8 * MB


def test_concurrent_runs_keep_their_own_state(sandbox):
    """Host functions find their run through a per-thread binding; errors never cross runs."""
    cases = [
        (REFERENCE, DATASETS, Status.GREEN, None),
        (REFERENCE, {"users": {"columns": ["id"], "rows": [[i] for i in range(50)]}}, Status.RED, None),
        (INFINITE_LOOP, DATASETS, Status.ERROR, ErrorKind.TIMEOUT),
        (_message("0", "-1"), DATASETS, Status.ERROR, ErrorKind.BAD_POINTER),
        (DEEP_RECURSION, DATASETS, Status.ERROR, ErrorKind.STACK_OVERFLOW),
    ] * 20
    limits = Limits(timeout_s=0.3)

    def run(case):
        source, datasets, _, _ = case
        return sandbox.run(Program.from_wat(source), datasets, limits)

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(run, cases))
    for (_, _, status, kind), outcome in zip(cases, outcomes, strict=True):
        assert outcome.status == status, outcome.to_dict()
        assert (outcome.error.kind if outcome.error else None) == kind


def test_a_forked_child_compiles_and_times_out(sandbox):
    """A prefork worker inherits the parent's engine: it must still compile and still stop loops."""
    assert sandbox.run(Program.from_wat(REFERENCE), DATASETS, QUICK).status == Status.GREEN
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.close(read_end)
        fresh = sandbox.run(Program.from_wat(REFERENCE.replace("fewer", "FEWER")), DATASETS, QUICK)
        looped = sandbox.run(Program.from_wat(INFINITE_LOOP), DATASETS, Limits(timeout_s=0.3))
        os.write(write_end, f"{fresh.status} {looped.error.kind if looped.error else None}".encode())
        os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + 20
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.05)
    with os.fdopen(read_end) as report:
        assert report.read() == "green timeout"
