"""A checker's code as the sandbox receives it: wasm bytes, WAT text or Python source."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from pathlib import Path


class ProgramKind(enum.StrEnum):
    WASM = "wasm"
    WAT = "wat"
    PYTHON = "python"


SUFFIXES = {".wasm": ProgramKind.WASM, ".wat": ProgramKind.WAT, ".py": ProgramKind.PYTHON}
# Compilation is not covered by the run's time limit, so the input that drives it is capped.
MAX_MODULE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Program:
    """Immutable code plus its sha256, which keys every compiled form of it.

    Nothing is validated here: a broken module or a syntax error is the guest's fault and
    comes back from ``Sandbox.run`` as an error outcome, never as an exception.
    """

    kind: ProgramKind
    code: bytes = field(repr=False)
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.code).hexdigest())

    @classmethod
    def from_wasm(cls, wasm: bytes) -> Program:
        return cls(ProgramKind.WASM, bytes(wasm))

    @classmethod
    def from_wat(cls, text: str) -> Program:
        return cls(ProgramKind.WAT, text.encode("utf-8"))

    @classmethod
    def from_python(cls, source: str) -> Program:
        return cls(ProgramKind.PYTHON, source.encode("utf-8"))

    @classmethod
    def from_path(cls, path: str | Path) -> Program:
        """Read a ``.wasm``, ``.wat`` or ``.py`` file.

        Raises ``ValueError`` for another suffix or a text file that is not UTF-8, and
        ``OSError`` when the file cannot be read: both are the caller's input, not the guest's.
        """
        path = Path(path)
        kind = SUFFIXES.get(path.suffix.lower())
        if kind is None:
            raise ValueError(f"{path}: a checker file must end in .wasm, .wat or .py")
        data = path.read_bytes()
        if kind is not ProgramKind.WASM:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        return cls(kind, data)

    @property
    def text(self) -> str:
        """The source of a WAT or Python program."""
        return self.code.decode("utf-8")
