"""WASI preview 1 for core modules, implemented in the host; every call a checker has no use
for answers with an error code.

Why not wasmtime's own WASI (``Linker.define_wasi``): it runs its calls on a Tokio runtime
whose threads outlive the run, and at interpreter exit they panicked ("panic in a function
that cannot unwind") and aborted the process with status 134, after ``sandbox_run`` had
printed its result, in up to 10 runs of 12 under load. The dozen calls a checker needs are
less code than that runtime, run on the calling thread and leave nothing behind.

Each function here takes the run's ``RunState`` after the caller, and returns a WASI errno
(``proc_exit`` returns nothing). A pointer outside the memory is ``EFAULT``, as WASI says;
a refusal that must end the run (a sleep, an exit with a status) is a ``SandboxError``.
``functions(imports)`` builds, from a module's own WASI imports, what its linker defines:
the implementation, or a stub answering ``EBADF``/``ENOTCAPABLE`` (calls on a descriptor)
or ``ENOSYS`` (the rest), so an unknown ``wasi_snapshot_preview1`` function links too.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable, Iterable

import wasmtime

from .host import RunState, guest_memory
from .outcome import ErrorKind, SandboxError

WASI = "wasi_snapshot_preview1"

U32 = 0xFFFFFFFF
STDIO = (0, 1, 2)
# Buffers one fd_write may gather: POSIX's IOV_MAX, and what bounds a call's work.
IOV_MAX = 1024
RANDOM_CHUNK = 1 << 16

ESUCCESS = 0
EBADF = 8
EFAULT = 21
EINVAL = 28
ENOSYS = 52
ESPIPE = 70
ENOTCAPABLE = 76

CLOCK_REALTIME = 0
CLOCK_MONOTONIC = 1
FILETYPE_UNKNOWN = 0
RIGHT_FD_READ = 1 << 1
RIGHT_FD_WRITE = 1 << 6

# Every function of wasi_snapshot_preview1 (WebAssembly/WASI, witx), as core wasm params:
# i = i32, I = i64. Each returns an i32 errno except proc_exit, which returns nothing.
SIGNATURES: dict[str, str] = {
    "args_get": "ii",
    "args_sizes_get": "ii",
    "environ_get": "ii",
    "environ_sizes_get": "ii",
    "clock_res_get": "ii",
    "clock_time_get": "iIi",
    "fd_advise": "iIIi",
    "fd_allocate": "iII",
    "fd_close": "i",
    "fd_datasync": "i",
    "fd_fdstat_get": "ii",
    "fd_fdstat_set_flags": "ii",
    "fd_fdstat_set_rights": "iII",
    "fd_filestat_get": "ii",
    "fd_filestat_set_size": "iI",
    "fd_filestat_set_times": "iIIi",
    "fd_pread": "iiiIi",
    "fd_prestat_get": "ii",
    "fd_prestat_dir_name": "iii",
    "fd_pwrite": "iiiIi",
    "fd_read": "iiii",
    "fd_readdir": "iiiIi",
    "fd_renumber": "ii",
    "fd_seek": "iIii",
    "fd_sync": "i",
    "fd_tell": "ii",
    "fd_write": "iiii",
    "path_create_directory": "iii",
    "path_filestat_get": "iiiii",
    "path_filestat_set_times": "iiiiIIi",
    "path_link": "iiiiiii",
    "path_open": "iiiiiIIii",
    "path_readlink": "iiiiii",
    "path_remove_directory": "iii",
    "path_rename": "iiiiii",
    "path_symlink": "iiiii",
    "path_unlink_file": "iii",
    "poll_oneoff": "iiii",
    "proc_exit": "i",
    "proc_raise": "i",
    "sched_yield": "",
    "random_get": "ii",
    "sock_accept": "iii",
    "sock_recv": "iiiiii",
    "sock_send": "iiiii",
    "sock_shutdown": "ii",
}
NO_RESULT = frozenset({"proc_exit"})
# Where a stubbed call takes its descriptor when it is not the first parameter.
FD_PARAM = {"path_symlink": 2}

_TYPES = {"i": wasmtime.ValType.i32(), "I": wasmtime.ValType.i64()}

HostFunction = Callable[..., int | None]


def functions(imports: Iterable[wasmtime.ImportType]) -> dict[str, tuple[wasmtime.FuncType, HostFunction]]:
    """What to define for a module's WASI imports: a known function checked against its
    signature, an unknown one stubbed with its own; a non-function is an ``unknown_import``."""
    defined = {}
    for imp in imports:
        if imp.module != WASI or imp.name is None:
            continue
        ty = imp.type
        where = f"{WASI}.{imp.name}"
        if not isinstance(ty, wasmtime.FuncType):
            detail = f"{where} is imported as a {type(ty).__name__}; WASI exports only functions"
            raise SandboxError(ErrorKind.UNKNOWN_IMPORT, detail)
        if imp.name in SIGNATURES:
            expected = signature(func_type(imp.name))
            if signature(ty) != expected:
                detail = f"{where} is imported as {signature(ty)}, but WASI preview 1 declares {expected}"
                raise SandboxError(ErrorKind.UNKNOWN_IMPORT, detail)
        elif not _wasi_shaped(ty):
            detail = (
                f"{where} is not a WASI preview 1 function, and {signature(ty)} is not a WASI "
                "signature (i32 and i64 parameters, an i32 errno or nothing returned)"
            )
            raise SandboxError(ErrorKind.UNKNOWN_IMPORT, detail)
        defined[imp.name] = (ty, IMPLEMENTED.get(imp.name) or _stub(imp.name, ty))
    return defined


def signature(ty: wasmtime.FuncType) -> str:
    """``(i32, i64) -> i32``: a function type as the messages name it."""
    results = ", ".join(map(str, ty.results)) or "()"
    return f"({', '.join(map(str, ty.params))}) -> {results}"


def func_type(name: str) -> wasmtime.FuncType:
    params = [_TYPES[code] for code in SIGNATURES[name]]
    return wasmtime.FuncType(params, [] if name in NO_RESULT else [_TYPES["i"]])


def _wasi_shaped(ty: wasmtime.FuncType) -> bool:
    return all(str(p) in ("i32", "i64") for p in ty.params) and [str(r) for r in ty.results] in ([], ["i32"])


def _stub(name: str, ty: wasmtime.FuncType) -> HostFunction:
    """An error code for a call checkers have no use for; a trap if it cannot return one."""
    if not ty.results:

        def absent(caller: wasmtime.Caller, state: RunState, *args: int) -> None:
            raise state.reject(
                ErrorKind.TRAP, f"the checker called {WASI}.{name}, which is not a WASI preview 1 function"
            )

        return absent
    on_descriptor = name.startswith(("fd_", "path_", "sock_")) and len(ty.params) > FD_PARAM.get(name, 0)
    if not on_descriptor:
        return lambda caller, state, *args: ENOSYS
    index = FD_PARAM.get(name, 0)
    return lambda caller, state, *args: ENOTCAPABLE if (args[index] & U32) in STDIO else EBADF


# Guest memory ------------------------------------------------------------------------------


def _fits(caller: wasmtime.Caller, memory: wasmtime.Memory, ptr: int, length: int) -> bool:
    return ptr + length <= memory.data_len(caller)


def _store(caller: wasmtime.Caller, state: RunState, ptr: int, data: bytes) -> int:
    """Write ``data`` at ``ptr`` (unsigned); ``EFAULT`` when it does not fit."""
    memory = guest_memory(caller, state)
    ptr &= U32
    if not _fits(caller, memory, ptr, len(data)):
        return EFAULT
    memory.write(caller, data, ptr)
    return ESUCCESS


def _gather(caller: wasmtime.Caller, state: RunState, iovs: int, count: int) -> tuple[int, bytes] | int:
    """The total length of ``count`` iovecs at ``iovs``, and as many of their bytes as the
    log can still keep (plus one, so it sees that it overflowed); an errno when they are bad."""
    memory = guest_memory(caller, state)
    iovs, count = iovs & U32, count & U32
    if count > IOV_MAX:
        return EINVAL
    if not _fits(caller, memory, iovs, 8 * count):
        return EFAULT
    total, budget, chunks = 0, state.log_room + 1, []
    for ptr, length in struct.iter_unpack("<II", memory.read(caller, iovs, iovs + 8 * count)):
        if not _fits(caller, memory, ptr, length):
            return EFAULT
        total += length
        take = min(length, budget)
        if take:
            chunks.append(memory.read(caller, ptr, ptr + take))
            budget -= take
    return (total, b"".join(chunks)) if total <= U32 else EINVAL


# Descriptors -------------------------------------------------------------------------------


def fd_write(caller: wasmtime.Caller, state: RunState, fd: int, iovs: int, count: int, nwritten: int) -> int:
    """Stdout and stderr go to the run's log, capped; a write past the cap still succeeds."""
    if fd & U32 not in (1, 2):
        return EBADF
    gathered = _gather(caller, state, iovs, count)
    if isinstance(gathered, int):
        return gathered
    total, data = gathered
    error = _store(caller, state, nwritten, struct.pack("<I", total))
    if error == ESUCCESS:
        state.write_stream(data)
    return error


def fd_read(caller: wasmtime.Caller, state: RunState, fd: int, iovs: int, count: int, nread: int) -> int:
    """Stdin is always at end of file and nothing else can be opened: nothing ever waits."""
    if fd & U32 != 0:
        return EBADF
    return _store(caller, state, nread, b"\0\0\0\0")


def fd_close(caller: wasmtime.Caller, state: RunState, fd: int) -> int:
    return ESUCCESS if fd & U32 in STDIO else EBADF


def fd_seek(caller: wasmtime.Caller, state: RunState, fd: int, offset: int, whence: int, result: int) -> int:
    return ESPIPE if fd & U32 in STDIO else EBADF


def fd_tell(caller: wasmtime.Caller, state: RunState, fd: int, offset: int) -> int:
    return ESPIPE if fd & U32 in STDIO else EBADF


def fd_fdstat_get(caller: wasmtime.Caller, state: RunState, fd: int, stat: int) -> int:
    """What wasmtime reported for captured streams: no terminal, read or write only."""
    fd &= U32
    if fd not in STDIO:
        return EBADF
    rights = RIGHT_FD_READ if fd == 0 else RIGHT_FD_WRITE
    return _store(caller, state, stat, struct.pack("<BxHxxxxQQ", FILETYPE_UNKNOWN, 0, rights, 0))


def fd_prestat_get(caller: wasmtime.Caller, state: RunState, fd: int, prestat: int) -> int:
    """No directory is preopened: libc's scan for them stops at the first descriptor."""
    return EBADF


def fd_prestat_dir_name(caller: wasmtime.Caller, state: RunState, fd: int, path: int, length: int) -> int:
    return EBADF


# Clocks, randomness, the process ------------------------------------------------------------


def clock_time_get(caller: wasmtime.Caller, state: RunState, clock: int, precision: int, now: int) -> int:
    """The realtime clock is ``now_ms``'s wall clock; the monotonic one never goes back."""
    clock &= U32
    if clock == CLOCK_REALTIME:
        value = time.time_ns()
    elif clock == CLOCK_MONOTONIC:
        value = time.monotonic_ns()
    else:
        return EINVAL
    return _store(caller, state, now, struct.pack("<Q", value))


def clock_res_get(caller: wasmtime.Caller, state: RunState, clock: int, resolution: int) -> int:
    clock &= U32
    if clock not in (CLOCK_REALTIME, CLOCK_MONOTONIC):
        return EINVAL
    info = time.get_clock_info("time" if clock == CLOCK_REALTIME else "monotonic")
    nanoseconds = max(1, round(info.resolution * 1e9))
    return _store(caller, state, resolution, struct.pack("<Q", nanoseconds))


def random_get(caller: wasmtime.Caller, state: RunState, buf: int, length: int) -> int:
    """The host's CSPRNG, in chunks: the buffer may be the whole memory."""
    memory = guest_memory(caller, state)
    buf, length = buf & U32, length & U32
    if not _fits(caller, memory, buf, length):
        return EFAULT
    for start in range(buf, buf + length, RANDOM_CHUNK):
        memory.write(caller, os.urandom(min(RANDOM_CHUNK, buf + length - start)), start)
    return ESUCCESS


def _sizes_empty(caller: wasmtime.Caller, state: RunState, count: int, size: int) -> int:
    """No arguments, no environment: zero of them, in zero bytes."""
    return _store(caller, state, count, b"\0\0\0\0") or _store(caller, state, size, b"\0\0\0\0")


def _nothing_to_copy(caller: wasmtime.Caller, state: RunState, pointers: int, buf: int) -> int:
    return ESUCCESS


def proc_exit(caller: wasmtime.Caller, state: RunState, code: int) -> None:
    """Status 0 ends the check as if ``check`` returned; any other is an error (a trap), as
    an abort would be, with what was recorded before kept."""
    code &= U32
    if code != 0:
        raise state.reject(ErrorKind.TRAP, f"the checker exited with status {code} instead of returning")
    state.exit()


def sched_yield(caller: wasmtime.Caller, state: RunState) -> int:
    return ESUCCESS


def poll_oneoff(caller: wasmtime.Caller, state: RunState, *_args: int) -> int:
    """Sleeping or waiting for input would block inside the host, where epochs cannot reach."""
    raise state.reject(
        ErrorKind.TRAP,
        "the checker called poll_oneoff (a sleep, or a wait for input); checkers may not block",
    )


IMPLEMENTED: dict[str, HostFunction] = {
    "fd_write": fd_write,
    "fd_read": fd_read,
    "fd_close": fd_close,
    "fd_seek": fd_seek,
    "fd_tell": fd_tell,
    "fd_fdstat_get": fd_fdstat_get,
    "fd_prestat_get": fd_prestat_get,
    "fd_prestat_dir_name": fd_prestat_dir_name,
    "clock_time_get": clock_time_get,
    "clock_res_get": clock_res_get,
    "random_get": random_get,
    "args_sizes_get": _sizes_empty,
    "args_get": _nothing_to_copy,
    "environ_sizes_get": _sizes_empty,
    "environ_get": _nothing_to_copy,
    "proc_exit": proc_exit,
    "sched_yield": sched_yield,
    "poll_oneoff": poll_oneoff,
}
