"""Idle datasource connections kept per worker process, so a run does not connect per dataset.

One small pool per datasource *as configured*: the key is a digest of everything the
connection depends on (engine, URL parts, password, timeouts, row cap, the vetted
addresses, the pool size) and of the process id, so an edited datasource, a re-resolved
host or a forked Celery child never gets a connection made for something else. A spec's
``identity`` (the datasource's primary key, from Django) closes the pool of its previous
settings at once instead of letting it idle out.

The pool only keeps connections; the engine decides what is safe to keep: it starts a
fresh read-only transaction with its timeouts on every checkout and resets the session
(rollback, then what ``DISCARD ALL`` does, or ``COM_RESET_CONNECTION``) on every return, and closes
a connection whose reset failed. At most ``max_idle`` (the datasource's
``max_concurrency``) connections wait, each for at most ``IDLE_S`` seconds; a daemon
thread closes the ones past that even when the process fetches nothing more.

psycopg_pool was the other candidate: it covers PostgreSQL only (MySQL needs this anyway),
runs its own threads per pool, and its fork story is "make the pool after forking". One
class for both engines, keyed by process id, is less to reason about.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

IDLE_S = 60.0

Close = Callable[[Any], None]


class Pool:
    """The idle connections of one datasource configuration in this process."""

    def __init__(self, max_idle: int, close: Close, idle_s: float = IDLE_S) -> None:
        self.max_idle = max_idle
        self.idle_s = idle_s
        self._close = close
        self._idle: list[tuple[float, Any]] = []  # (given back at, connection), newest last
        self._lock = threading.Lock()
        self.closed = False

    def __len__(self) -> int:
        return len(self._idle)

    def take(self) -> Any | None:
        """The most recently returned live connection, or None: the caller connects."""
        with self._lock:
            self._expire_locked(time.monotonic())
            return self._idle.pop()[1] if self._idle else None

    def give(self, connection: Any) -> None:
        """Keep ``connection`` for the next use, or close it when the pool is full or closed."""
        with self._lock:
            if not self.closed and len(self._idle) < self.max_idle:
                self._idle.append((time.monotonic(), connection))
                return
        self._close_quietly(connection)

    def expire(self, now: float | None = None) -> None:
        """Close the connections idle for longer than ``idle_s`` (as of ``now``, monotonic)."""
        with self._lock:
            self._expire_locked(time.monotonic() if now is None else now)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for _, connection in idle:
            self._close_quietly(connection)

    def _expire_locked(self, now: float) -> None:
        fresh = [(since, c) for since, c in self._idle if now - since <= self.idle_s]
        stale = [c for since, c in self._idle if now - since > self.idle_s]
        self._idle = fresh
        for connection in stale:
            self._close_quietly(connection)

    def _close_quietly(self, connection: Any) -> None:
        with contextlib.suppress(Exception):
            self._close(connection)


class Pools:
    """Every pool of this process, by key; a forked child starts with none of its parent's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, Pool] = {}
        self._keys_by_identity: dict[str, str] = {}
        self._pid = os.getpid()
        self._inherited: list[Pool] = []
        self._reaper: threading.Thread | None = None

    def get(self, key: str, *, identity: str, max_idle: int, close: Close) -> Pool:
        key = f"{os.getpid()}:{key}"
        with self._lock:
            self._forget_parent()
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = Pool(max_idle, close)
                self._start_reaper()
            replaced = None
            if identity and self._keys_by_identity.get(identity, key) != key:
                replaced = self._pools.pop(self._keys_by_identity[identity], None)
            if identity:
                self._keys_by_identity[identity] = key
        if replaced is not None:
            replaced.close()
        return pool

    def all(self) -> list[Pool]:
        with self._lock:
            self._forget_parent()
            return list(self._pools.values())

    def expire(self, now: float | None = None) -> None:
        """Close idle connections past their time (``now`` on the monotonic clock)."""
        for pool in self.all():
            pool.expire(now)

    def close(self) -> None:
        """Close every idle connection of this process (tests; a worker's shutdown)."""
        with self._lock:
            self._forget_parent()
            pools, self._pools = list(self._pools.values()), {}
            self._keys_by_identity.clear()
        for pool in pools:
            pool.close()

    def _forget_parent(self) -> None:
        """After a fork, the parent's connections are the parent's: never used, never closed
        (closing would tell its server goodbye on the parent's socket); kept referenced so
        that no finaliser runs on them either."""
        if self._pid == os.getpid():
            return
        self._inherited.extend(self._pools.values())
        self._pools = {}
        self._keys_by_identity = {}
        self._pid = os.getpid()
        self._reaper = None

    def _after_fork(self) -> None:
        # A lock another thread held at the fork stays held in the child: start over.
        self._lock = threading.Lock()
        self._forget_parent()

    def _start_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap, name="malleable-datasource-pool", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        pid = os.getpid()
        while pid == os.getpid():
            time.sleep(IDLE_S / 4)
            self.expire()


POOLS = Pools()
os.register_at_fork(after_in_child=POOLS._after_fork)
