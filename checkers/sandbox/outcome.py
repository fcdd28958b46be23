"""What a sandbox run produces, and the budgets it runs under."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import Any


class Status(enum.StrEnum):
    GREEN = "green"
    RED = "red"
    ERROR = "error"


class ErrorKind(enum.StrEnum):
    """The error kinds: docs/contracts.md, "Error kinds" (meanings in docs/checkers.md)."""

    TIMEOUT = "timeout"
    FUEL_EXHAUSTED = "fuel_exhausted"
    MEMORY_LIMIT = "memory_limit"
    STACK_OVERFLOW = "stack_overflow"
    TRAP = "trap"
    INVALID_MODULE = "invalid_module"
    # The module did not compile within the operator's compile limits (time or memory).
    COMPILE_LIMIT = "compile_limit"
    MISSING_EXPORT = "missing_export"
    UNKNOWN_IMPORT = "unknown_import"
    BAD_POINTER = "bad_pointer"
    UNKNOWN_DATASET = "unknown_dataset"
    OUTPUT_LIMIT = "output_limit"
    PYTHON_EXCEPTION = "python_exception"
    # Raised around the sandbox by the run pipeline, never by sandbox_run: a dataset query
    # that failed, a dataset cut at its datasource's row cap (and not marked as a sample),
    # and a rule checker whose metric cannot be computed.
    DATASET_ERROR = "dataset_error"
    DATASET_TRUNCATED = "dataset_truncated"
    RULE_ERROR = "rule_error"
    # Recorded by the scheduler's sweep: the worker running the run died, or none ever started it.
    WORKER_LOST = "worker_lost"


class Level(enum.StrEnum):
    OK = "ok"
    FAIL = "fail"
    LOG = "log"


@dataclass(frozen=True)
class _Texts:
    """A record of a run's result whose every field is written as text (enums by value)."""

    def to_dict(self) -> dict[str, str]:
        return {each.name: str(getattr(self, each.name)) for each in fields(self)}


@dataclass(frozen=True)
class Message(_Texts):
    level: Level
    text: str


@dataclass(frozen=True)
class CheckerError(_Texts):
    kind: ErrorKind
    detail: str


class SandboxError(Exception):
    """A run that cannot be evaluated; always carries the contract's error kind.

    The detail always starts with the kind ("timeout: the checker ran past its 5 s limit"),
    so it reads on its own in a log line, an alarm or a terminal.
    """

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        prefix = f"{kind}: "
        detail = detail if detail.startswith(prefix) else prefix + detail
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    """Budgets for one run. Operators and checkers may lower them; nothing raises them.

    - ``timeout_s``: wall clock, enforced by epoch interruption (10 ms ticks). 5 s is long
      for a check and short enough that a stuck one does not hold a worker.
    - ``memory_bytes``: the guest's one linear memory. 256 MB holds CPython plus a dataset
      of a few hundred thousand rows, and a worker survives several at once.
    - ``fuel``: wasm instructions, roughly; about 7-9 billion a second on the 2-core
      reference machine. 20 billion (~2-3 s of computation) stops a runaway checker
      deterministically, however loaded the machine, while the timeout still covers
      everything else. Counting nulls over 100,000 x 5 cells in Python uses ~2 billion.
    - ``output_bytes``: all messages together, and separately the captured log; 1 MB.
    - ``max_messages`` / ``max_message_bytes``: 1000 messages of at most 4 KB: enough to say
      what failed, too little to copy a dataset out through the alarm channels.
    """

    timeout_s: float = 5.0
    memory_bytes: int = 256 * 1024 * 1024
    fuel: int = 20_000_000_000
    output_bytes: int = 1024 * 1024
    max_messages: int = 1000
    max_message_bytes: int = 4096
    max_metrics: int = 100


# A run keeps the keys of at most this many failing rows per dataset, and the count of all.
FAILING_KEYS_CAP = 1000
# A key longer than this is cut: keys name rows, they do not carry them.
KEY_CHARS = 200


@dataclass
class FailingSample:
    """The failing rows of one dataset in a run: how many, and the keys of the first ``FAILING_KEYS_CAP``."""

    count: int = 0
    keys: list[str] = field(default_factory=list)

    def add(self, keys: list[str], count: int) -> None:
        """Another batch of the same dataset: counted, its new keys kept up to the cap."""
        seen = set(self.keys)
        fresh = [key for key in dict.fromkeys(keys) if key not in seen]
        self.keys += fresh[: max(0, FAILING_KEYS_CAP - len(self.keys))]
        self.count += max(count, len(keys))

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "keys": list(self.keys)}


def key_text(value: Any) -> str:
    """A key as it is stored and compared: text, cut at ``KEY_CHARS``; 5 and "5" are one key."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)[:KEY_CHARS]


@dataclass
class Outcome:
    status: Status
    messages: list[Message] = field(default_factory=list)
    error: CheckerError | None = None
    logs: str = ""
    duration_ms: float = 0.0
    fuel_used: int = 0
    # Named numbers the checker recorded with ``metric(name, value)``, kept with the run.
    metrics: dict[str, float] = field(default_factory=dict)
    # Failing rows by dataset, from ``fail_rows`` or a rule that no rows may match.
    failing_rows: dict[str, FailingSample] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``sandbox_run`` (docs/contracts.md, "sandbox_run")."""
        return (
            {
                "status": str(self.status),
                "messages": [m.to_dict() for m in self.messages],
                "error": self.error.to_dict() if self.error else None,
                "logs": self.logs,
                "duration_ms": round(self.duration_ms, 3),
                "fuel_used": self.fuel_used,
            }
            | ({"metrics": dict(self.metrics)} if self.metrics else {})
            | self._failing_rows_dict()
        )

    def _failing_rows_dict(self) -> dict[str, Any]:
        if not self.failing_rows:
            return {}
        return {"failing_rows": {name: rows.to_dict() for name, rows in self.failing_rows.items()}}
