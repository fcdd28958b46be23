"""Text from guests, databases and remote servers, made fit to store: bounded and accepted.

Everything Malleable stores that someone else wrote (a checker's messages, logs and error
details, a database's error message, a webhook's answer) goes through ``storable`` first,
for two reasons:

- PostgreSQL refuses a NUL character in text and in JSON (``\\u0000``), and no driver can
  send a lone surrogate (``"\\ud800"``, which a Python guest can print): either one made the
  whole run fail to record. Each becomes U+FFFD, the replacement character, so the text
  still shows that something was there.
- A guest decides how long its exception message is (40 MB was seen). Each kind of text has
  a cap in bytes of UTF-8; a longer one keeps its head and ends with ``[cut: N bytes more]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# The caps, in bytes of UTF-8 (the marker comes on top).
MESSAGE_BYTES = 4096  # one ok/fail/log message: the sandbox's own per-message limit
MESSAGES_BYTES = 1024 * 1024  # all of a run's messages together: the sandbox's output limit
DETAIL_BYTES = 64 * 1024  # an error detail: a long traceback fits, a copied dataset does not
LOG_BYTES = 64 * 1024  # a run's captured stdout/stderr
REMOTE_ERROR_BYTES = 4096  # what a channel's server or a database answered

_REFUSED = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean(text: str) -> str:
    """``text`` without the characters PostgreSQL or the driver refuse (NUL, lone surrogates)."""
    return _REFUSED.sub(REPLACEMENT, text)


def cut_marker(extra_bytes: int) -> str:
    return f"\n[cut: {extra_bytes:,} bytes more]"


def storable(text: str, limit: int) -> str:
    """``text`` cleaned and, past ``limit`` bytes of UTF-8, cut there with a visible marker."""
    text = clean(text)
    if len(text) * 4 <= limit:  # no character takes more than four bytes
        return text
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    # Cut on a character boundary: drop the continuation bytes of a character split in two.
    head = data[:limit].decode("utf-8", "ignore")
    return head + cut_marker(len(data) - len(head.encode("utf-8")))


def storable_messages(messages: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """A run's messages, each cleaned and capped, and all of them within ``MESSAGES_BYTES``.

    Past the total, the rest are dropped and one last ``log`` message says how many.
    """
    kept: list[dict[str, str]] = []
    total = 0
    dropped = 0
    for message in messages:
        text = storable(message["text"], MESSAGE_BYTES)
        size = len(text.encode("utf-8"))
        if dropped or total + size > MESSAGES_BYTES:
            dropped += 1
            continue
        total += size
        kept.append({"level": clean(message["level"]), "text": text})
    if dropped:
        note = f"[cut: {dropped:,} messages more, past {MESSAGES_BYTES:,} bytes]"
        kept.append({"level": "log", "text": note})
    return kept
