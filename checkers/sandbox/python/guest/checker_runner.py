"""The guest side of the Python checker component: runs one checker's source per call.

componentize-py imports this module at BUILD time and snapshots the initialised
interpreter, so every module imported here is bundled and ready; nothing else can be
imported at run time (the component has no files to import from). User source runs with
an import hook that allows only ``ALLOWED_MODULES`` and with builtins that cannot reach
files. These are conveniences that turn mistakes into clear errors; the boundary that
holds is the wasm sandbox, which has no imports but the ones in ``wit/checker.wit``.
"""

from __future__ import annotations

import array
import base64
import binascii
import bisect
import builtins
import calendar
import cmath
import collections
import collections.abc
import copy
import csv
import dataclasses
import decimal
import difflib
import enum
import fractions
import functools
import hashlib
import heapq
import ipaddress
import itertools
import json
import linecache
import math
import numbers
import operator
import os
import pprint
import random
import re
import statistics
import string
import struct
import sys
import textwrap
import traceback
import types
import typing
import unicodedata
import urllib.parse
from typing import Any

import checker_api
import checker_shims
import wit_world
from componentize_py_types import Err

SOURCE_NAME = "<checker>"

_BUNDLED = (
    array,
    base64,
    binascii,
    bisect,
    calendar,
    cmath,
    collections,
    copy,
    csv,
    dataclasses,
    decimal,
    difflib,
    enum,
    fractions,
    functools,
    hashlib,
    heapq,
    ipaddress,
    itertools,
    json,
    math,
    numbers,
    operator,
    pprint,
    random,
    re,
    statistics,
    string,
    struct,
    textwrap,
    typing,
    unicodedata,
    urllib.parse,
)
_SHIMS = {
    "time": checker_shims.time_module(),
    "datetime": checker_shims.datetime_module(),
    "sys": checker_shims.sys_module(),
}
_MODULES: dict[str, types.ModuleType] = {
    **{module.__name__: module for module in _BUNDLED},
    "collections.abc": collections.abc,
    "urllib": sys.modules["urllib"],
    **_SHIMS,
}
ALLOWED_MODULES = tuple(sorted(_MODULES))

# Audit events that would reach for the operating system. Under --stub-wasi such a call traps
# and ends the run with a bare "unreachable"; refused here, it is an exception with a name
# instead. CPython itself relies on this for syntax errors: before reporting one it tries to
# open the source file to quote the line, and a refused open makes it quote the string.
_REFUSED_EVENTS = frozenset({"open", "import"})
_REFUSED_PREFIXES = ("os.", "socket.", "subprocess.", "shutil.", "ctypes.", "glob.", "tempfile.")

# How CPython words an OverflowError about an object's size (as opposed to a float's range).
_SIZE_OVERFLOWS = ("index-sized integer", "too long", "too large to convert to C ssize_t")

_REMOVED_BUILTINS = ("open", "input", "exit", "quit", "help", "breakpoint", "copyright", "credits", "license")


def _import(
    name: str,
    globals: Any = None,
    locals: Any = None,
    fromlist: Any = (),
    level: int = 0,
) -> types.ModuleType:
    """``import`` in checker source: only the bundled modules, so nothing touches the (absent) disk."""
    if level:
        raise ImportError("relative imports are not available to checkers")
    if name not in _MODULES:
        raise ImportError(
            f"module {name!r} is not available to checkers; they may import: {', '.join(ALLOWED_MODULES)}",
            name=name,
        )
    if fromlist:
        return _MODULES[name]
    return _MODULES[name.partition(".")[0]]


def _open(*args: Any, **kwargs: Any) -> typing.NoReturn:
    raise PermissionError("open() is not available to checkers: they have no files; use datasets instead")


def _checker_builtins() -> dict[str, Any]:
    names = dict(vars(builtins))
    for name in _REMOVED_BUILTINS:
        names.pop(name, None)
    names["__import__"] = _import
    names["open"] = _open
    return names


def _refuse_system_access(event: str, args: tuple[Any, ...]) -> None:
    if event in _REFUSED_EVENTS or event.startswith(_REFUSED_PREFIXES):
        raise PermissionError(f"{event} is not available to checkers: no files, processes or network")


def _quiet_linecache() -> None:
    """Tracebacks look lines up in linecache, which would stat files and trap: serve only the checker."""
    linecache.updatecache = lambda filename, module_globals=None: []
    linecache.checkcache = lambda filename=None: None
    linecache.lazycache = lambda filename, module_globals: False


def _namespace(params: Any) -> dict[str, Any]:
    """The globals checker source runs in: docs/contracts.md's Python API, nothing of the runner."""
    dataset_map = checker_api.Datasets()
    return {
        "__name__": "__main__",
        "__builtins__": _checker_builtins(),
        "datasets": dataset_map,
        "dataset": dataset_map.__getitem__,
        "ok": checker_api.ok,
        "fail": checker_api.fail,
        "now": checker_api.now,
        "business_day": checker_api.business_day,
        "metric": checker_api.metric,
        "fail_rows": checker_api.fail_rows,
        # The seed's own spelling, so its example runs as it was written.
        "bussiness_day": checker_api.business_day,
        "params": params,
        "CheckerCase": checker_api.CheckerCase,
        "Dataset": checker_api.Dataset,
    }


def _checker_frames(tb: types.TracebackType | None) -> list[str]:
    """The traceback lines of the checker's own frames; the runner's are noise to its author."""
    frames = [frame for frame in traceback.extract_tb(tb) if frame.filename == SOURCE_NAME]
    return traceback.format_list(frames)


def _last_checker_line(tb: types.TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SOURCE_NAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _where(tb: types.TracebackType | None) -> str:
    line = _last_checker_line(tb)
    return f" (at line {line})" if line else ""


def _failure(exc: BaseException) -> wit_world.Failure:
    """Map an uncaught exception to an error kind and a detail the checker's author can act on."""
    if isinstance(exc, MemoryError) or _is_size_overflow(exc):
        where = _where(exc.__traceback__)
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return wit_world.Failure("memory_limit", f"{reason}: the checker ran out of memory{where}")
    if isinstance(exc, RecursionError):
        return wit_world.Failure(
            "stack_overflow", f"RecursionError: {exc}{_where(exc.__traceback__)}; look for runaway recursion"
        )
    if isinstance(exc, SyntaxError) and exc.filename == SOURCE_NAME:
        return wit_world.Failure("python_exception", _syntax_detail(exc))
    lines = ["Traceback (most recent call last):\n", *_checker_frames(exc.__traceback__)]
    lines += traceback.format_exception_only(type(exc), exc)
    return wit_world.Failure("python_exception", "".join(lines).rstrip())


def _is_size_overflow(exc: BaseException) -> bool:
    """An object larger than wasm32 can address (``'x' * 10**10``): memory, not arithmetic."""
    return isinstance(exc, OverflowError) and any(text in str(exc) for text in _SIZE_OVERFLOWS)


def _failure_or_fallback(exc: BaseException) -> wit_world.Failure:
    """Formatting a traceback can fail too (out of memory, say): then report in fewer words."""
    try:
        return _failure(exc)
    except MemoryError:
        return wit_world.Failure("memory_limit", "MemoryError: the checker ran out of memory")
    except Exception:
        detail = f"{type(exc).__name__} (its traceback could not be formatted)"
        return wit_world.Failure("python_exception", detail)


def _syntax_detail(exc: SyntaxError) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return f"{type(exc).__name__} at line {exc.lineno}: {exc.msg}\n" + "".join(lines[:-1]).rstrip()


def _execute(source: str, params: Any) -> None:
    linecache.cache[SOURCE_NAME] = (len(source), None, source.splitlines(keepends=True), SOURCE_NAME)
    code = compile(source, SOURCE_NAME, "exec", dont_inherit=True)
    namespace = _namespace(params)
    exec(code, namespace)  # noqa: S102 - running the checker is the point; the wasm sandbox contains it
    check = namespace.get("check")
    if callable(check):
        check()


# The bindings (wit_world) are generated by componentize-py inside the build, so mypy sees them as Any.
class WitWorld(wit_world.WitWorld):  # type: ignore[misc]
    """The component's export: one call per run, in a fresh instance each time."""

    def run(self, source: str, params: str) -> None:
        random.seed(wit_world.now_ms())
        try:
            _execute(source, json.loads(params) if params else {})
        except BaseException as exc:
            raise Err(_failure_or_fallback(exc)) from None
        finally:
            checker_shims.LOG.flush()


def _warm_up() -> None:
    """Format one of each common error now, so what ``traceback`` imports lazily is bundled."""
    samples = ["1 +", "undefined_name", "object().missing", "{}['key']", "import nothing_such"]
    for sample in samples:
        try:
            _execute(sample, {})
        except (SyntaxError, NameError, AttributeError, KeyError, ImportError) as exc:
            _failure(exc)


def _initialise() -> None:
    """Runs once, at build time: the snapshot carries no environment and no file lookups."""
    os.environ.clear()
    _quiet_linecache()
    checker_shims.install_streams()
    _warm_up()
    sys.addaudithook(_refuse_system_access)


_initialise()
