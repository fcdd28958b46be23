"""Stand-ins for the parts of the standard library that would reach for the operating system.

The component is built with ``--stub-wasi``: every WASI call (clock, files, sleep, stdout)
is a trap. Checkers still want the time and ``print``, so these read the host's clock
through ``now-ms`` and send output to the run's log. ``time.sleep`` raises instead of
waiting: a checker has nothing to wait for, and its time budget is the host's to spend.
"""

from __future__ import annotations

import datetime as _datetime
import sys
import time as _time
import types
from typing import Any

import wit_world

_EPOCH = _datetime.datetime(1970, 1, 1, tzinfo=_datetime.UTC)


def _now_seconds() -> float:
    milliseconds: int = wit_world.now_ms()
    return milliseconds / 1000


def _now_nanoseconds() -> int:
    milliseconds: int = wit_world.now_ms()
    return milliseconds * 1_000_000


def _utc_now() -> _datetime.datetime:
    return _EPOCH + _datetime.timedelta(milliseconds=wit_world.now_ms())


class LogStream:
    """``sys.stdout``/``sys.stderr``: whole lines go to the run's log as they are completed."""

    def __init__(self) -> None:
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += str(text)
        if "\n" in self._pending:
            complete, _, self._pending = self._pending.rpartition("\n")
            wit_world.log(complete + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            wit_world.log(self._pending)
            self._pending = ""

    def isatty(self) -> bool:
        return False


def _sleep(seconds: float) -> None:
    raise RuntimeError(
        f"time.sleep({seconds!r}) is not available to checkers: a checker cannot wait, "
        "it runs once per schedule tick"
    )


def _clocked(function: Any) -> Any:
    """``time.gmtime()`` and friends read the clock when called without a timestamp."""

    def call(*args: Any) -> Any:
        return function(*args) if args and args[0] is not None else function(_now_seconds())

    call.__name__ = function.__name__
    call.__doc__ = function.__doc__
    return call


def _or_now(moment: Any) -> Any:
    return moment if moment is not None else _time.gmtime(_now_seconds())


def time_module() -> types.ModuleType:
    """``import time`` in a checker: the host's clock, no sleep, no process or thread clocks."""
    module = types.ModuleType("time", "Time access through the sandbox host's clock.")
    for name in ("struct_time", "mktime", "strptime", "timezone", "altzone", "daylight", "tzname"):
        setattr(module, name, getattr(_time, name))
    module.__dict__.update(
        time=_now_seconds,
        time_ns=_now_nanoseconds,
        monotonic=_now_seconds,
        perf_counter=_now_seconds,
        monotonic_ns=_now_nanoseconds,
        perf_counter_ns=_now_nanoseconds,
        sleep=_sleep,
        gmtime=_clocked(_time.gmtime),
        localtime=_clocked(_time.localtime),
        ctime=_clocked(_time.ctime),
        asctime=lambda t=None: _time.asctime(_or_now(t)),
        strftime=lambda fmt, t=None: _time.strftime(fmt, _or_now(t)),
    )
    return module


class _Date(_datetime.date):
    """``datetime.date`` whose ``today()`` asks the host (UTC): the guest has no clock."""

    __module__ = "datetime"
    __qualname__ = "date"

    @classmethod
    def today(cls) -> Any:
        day = _utc_now().date()
        return cls(day.year, day.month, day.day)


class _DateTime(_datetime.datetime):
    """``datetime.datetime`` whose ``now()``/``today()``/``utcnow()`` ask the host."""

    __module__ = "datetime"
    __qualname__ = "datetime"

    @classmethod
    def now(cls, tz: _datetime.tzinfo | None = None) -> Any:
        moment = _utc_now()
        moment = moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)
        return cls.combine(moment.date(), moment.timetz())

    @classmethod
    def today(cls) -> Any:
        return cls.now()

    @classmethod
    def utcnow(cls) -> Any:
        return cls.now()


_DateTime.__name__ = "datetime"
_Date.__name__ = "date"


def datetime_module() -> types.ModuleType:
    """``import datetime`` in a checker: the real module, with the clock-reading classes replaced."""
    module = types.ModuleType("datetime", _datetime.__doc__)
    for name in dir(_datetime):
        if not name.startswith("__"):
            setattr(module, name, getattr(_datetime, name))
    module.__dict__.update(datetime=_DateTime, date=_Date)
    return module


# stdout and stderr both go to the run's one log, so they share a buffer to keep their order.
LOG = LogStream()

_SYS_NAMES = (
    "byteorder",
    "exc_info",
    "exception",
    "float_info",
    "get_int_max_str_digits",
    "getrecursionlimit",
    "getsizeof",
    "hash_info",
    "int_info",
    "intern",
    "maxsize",
    "maxunicode",
    "set_int_max_str_digits",
    "version",
    "version_info",
)
# Each Python call also takes a native wasm frame, and the host gives wasm 1 MiB of stack
# (engine.py). Beyond ~4,000 frames a runaway recursion, or merely freeing its traceback,
# exhausts it, which CPython cannot foresee. Capped here, runaway recursion is a
# RecursionError with its line, within milliseconds; real checkers need far less depth.
MAX_RECURSION_LIMIT = 2_000


def _setrecursionlimit(limit: int) -> None:
    """``sys.setrecursionlimit``, capped at ``MAX_RECURSION_LIMIT``."""
    sys.setrecursionlimit(min(int(limit), MAX_RECURSION_LIMIT))


def sys_module() -> types.ModuleType:
    """``import sys`` in a checker: limits and number facts, not the interpreter's module table."""
    module = types.ModuleType("sys", "A checker's view of the interpreter.")
    for name in _SYS_NAMES:
        setattr(module, name, getattr(sys, name))
    module.__dict__.update(setrecursionlimit=_setrecursionlimit, stdout=LOG, stderr=LOG)
    return module


def install_streams() -> None:
    """Point stdout and stderr at the run's log instead of WASI's (trapping) file descriptors."""
    sys.stdout = sys.stderr = LOG
