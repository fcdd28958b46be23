"""Compiled wasm artifacts on disk, so a restart does not pay for compilation again.

Deserializing a compiled artifact runs its machine code, so only files this process wrote
are ever deserialized, and never bytes a user supplied: a user's bytes always go through
``Module(engine, wasm)``, which accepts wasm or nothing. A file is named after the sha256 of
the wasm it was compiled from together with the wasmtime version and engine settings; it is
written to a temporary name and renamed into place, inside a directory created ``0700``.
A file that is not a regular file owned by this user, is writable by others, or fails to
deserialize is deleted and compiled afresh. Past ``max_bytes`` the least recently used files
are deleted (a load refreshes a file's mtime).

With ``bounded`` limits, a core module missing from the cache is compiled by a child process
under those limits (``compiler.py``), which writes the file this process then loads: a
user's module is never compiled in the process that runs it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import wasmtime
from wasmtime.component import Component

from .compiler import CompileLimits, compile_to, compile_to_temporary
from .engine import ENGINE_SETTINGS

log = logging.getLogger(__name__)

# Room for thousands of checker modules and a few builds of the ~40 MB Python runtime.
MAX_CACHE_BYTES = 2 * 1024**3

Artifact = TypeVar("Artifact", wasmtime.Module, Component)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ArtifactCache:
    """Compile-or-load for core modules and components; ``directory=None`` keeps nothing on disk."""

    def __init__(
        self,
        engine: wasmtime.Engine,
        directory: Path | None,
        max_bytes: int = MAX_CACHE_BYTES,
        bounded: CompileLimits | None = None,
    ) -> None:
        self.engine = engine
        self.directory = _private_dir(directory) if directory is not None else None
        self.max_bytes = max_bytes
        self.bounded = bounded

    def module(self, wasm: bytes, digest: str | None = None) -> wasmtime.Module:
        """A compiled core module; raises ``WasmtimeError`` when ``wasm`` is not valid wasm
        (``SandboxError`` instead, ``invalid_module`` or ``compile_limit``, when bounded)."""
        if self.bounded is not None:
            return self._bounded_module(wasm, digest, self.bounded)
        return self._load(
            "module",
            wasm,
            digest,
            compile=lambda: wasmtime.Module(self.engine, wasm),
            deserialize=lambda path: wasmtime.Module.deserialize_file(self.engine, path),
        )

    def component(self, wasm: bytes, digest: str | None = None) -> Component:
        """A compiled component (the Python runtime), cached like a module."""
        return self._load(
            "component",
            wasm,
            digest,
            compile=lambda: Component(self.engine, wasm),
            deserialize=lambda path: Component.deserialize_file(self.engine, path),
        )

    def _bounded_module(self, wasm: bytes, digest: str | None, limits: CompileLimits) -> wasmtime.Module:
        path = self.path_for("module", digest or sha256(wasm))
        if path is None:
            scratch_path, scratch = compile_to_temporary(wasm, limits)
            with scratch:
                return wasmtime.Module.deserialize_file(self.engine, str(scratch_path))
        loaded = self._cached(path, lambda found: wasmtime.Module.deserialize_file(self.engine, found))
        if loaded is not None:
            return loaded
        _discard(path)
        compile_to(wasm, path, limits)
        _prune(path.parent, self.max_bytes)
        return wasmtime.Module.deserialize_file(self.engine, str(path))

    def path_for(self, kind: str, digest: str) -> Path | None:
        if self.directory is None:
            return None
        key = sha256(f"{kind}\0{digest}\0{ENGINE_SETTINGS}".encode())
        return self.directory / f"{key}.{kind}"

    def _load(
        self,
        kind: str,
        wasm: bytes,
        digest: str | None,
        compile: Callable[[], Artifact],
        deserialize: Callable[[str], Artifact],
    ) -> Artifact:
        path = self.path_for(kind, digest or sha256(wasm))
        if path is None:
            return compile()
        artifact = self._cached(path, deserialize)
        if artifact is not None:
            return artifact
        _discard(path)
        artifact = compile()
        _write_atomically(path, artifact.serialize())
        _prune(path.parent, self.max_bytes)
        return artifact

    @staticmethod
    def _cached(path: Path, deserialize: Callable[[str], Artifact]) -> Artifact | None:
        """The artifact this user's processes wrote at ``path``, or None (absent or unreadable)."""
        if not _trusted_file(path):
            return None
        try:
            artifact = deserialize(str(path))
        except wasmtime.WasmtimeError as exc:
            log.warning("discarding unreadable compiled artifact %s: %s", path, exc)
            return None
        _touch(path)
        return artifact


def _private_dir(directory: Path) -> Path | None:
    """Create the directory 0700; refuse (cache off) one that others could write into."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise PermissionError(f"{directory} is not a directory owned by this user")
        if stat.S_IMODE(info.st_mode) != 0o700:
            directory.chmod(0o700)
    except OSError as exc:
        log.warning("wasm cache disabled: %s", exc)
        return None
    return directory


def _trusted_file(path: Path) -> bool:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    return (
        stat.S_ISREG(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _discard(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        log.warning("wasm cache entry %s is a directory; leaving it", path)


def _write_atomically(path: Path, data: bytes | bytearray) -> None:
    """Write next to the destination and rename, so no reader ever sees half a file."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=f".{os.getpid()}")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        log.warning("could not cache a compiled artifact at %s: %s", path, exc)


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)


def _prune(directory: Path, max_bytes: int) -> None:
    """Delete the least recently used artifacts until the directory fits in ``max_bytes``."""
    entries = []
    for entry in os.scandir(directory):
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        entries.append((info.st_mtime_ns, info.st_size, Path(entry.path)))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        _discard(path)
        total -= size
