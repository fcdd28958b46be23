from __future__ import annotations

import pytest

from checkers.sandbox import Limits, Outcome, Program, Sandbox, Status
from tests.sandbox.wat import DATASETS, QUICK, REFERENCE


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    return Sandbox(cache_dir=tmp_path_factory.mktemp("wasm-cache"))


@pytest.fixture
def run_wat(sandbox: Sandbox):
    def run(text: str, datasets=DATASETS, limits: Limits = QUICK) -> Outcome:
        return sandbox.run(Program.from_wat(text), datasets, limits)

    return run


@pytest.fixture
def assert_healthy(sandbox: Sandbox):
    """After an attack, the next ordinary run must still be right."""

    def check() -> None:
        outcome = sandbox.run(Program.from_wat(REFERENCE), DATASETS, QUICK)
        assert outcome.status == Status.GREEN, outcome.to_dict()
        assert [m.text for m in outcome.messages] == ["fewer than 42"]

    return check
