"""Typed datasource errors whose messages are safe to show, log and store.

Every message is scrubbed when the error is made, not when it is printed: a message that
once held a password is never kept anywhere, so no later repr, log line, run record or alarm
can leak it. ``permanent`` tells the run pipeline whether trying again later can help.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"

# "user:secret@" in any URL, and "password=secret" in a libpq-style conninfo or a message.
_URL_USERINFO = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s]*@", re.IGNORECASE)
_KEY_VALUE = re.compile(
    r"""(?P<key>\b(?:password|passwd|pwd)\s*=\s*)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&;,)]+)""",
    re.IGNORECASE,
)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret, URL password and ``password=...`` masked.

    Each secret is also masked in its URL-encoded forms, since drivers echo URLs back.
    A secret is masked wherever it appears, even inside a longer word: a mangled message
    is a lesser harm than a leaked password.
    """
    variants = {
        form for secret in secrets if secret for form in (secret, quote(secret, safe=""), quote_plus(secret))
    }
    for form in sorted(variants, key=len, reverse=True):
        text = text.replace(form, MASK)
    text = _URL_USERINFO.sub(rf"\g<head>:{MASK}@", text)
    return _KEY_VALUE.sub(rf"\g<key>{MASK}", text)


class DatasourceError(Exception):
    """A dataset could not be fetched; the message names what and is already scrubbed."""

    permanent: bool = False
    # Which of several statements run in one session failed (``Engine.fetch_all``), if any.
    statement: int | None = None

    def __init__(self, message: str, *, secrets: Iterable[str] = (), permanent: bool | None = None) -> None:
        self.message = scrub(message, secrets).strip()
        super().__init__(self.message)
        if permanent is not None:
            self.permanent = permanent

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, permanent={self.permanent})"


class InvalidSpec(DatasourceError):
    """The engine, URL, timeout or row cap is malformed: fix the datasource."""

    permanent = True


class SqlRejected(DatasourceError):
    """The dataset's SQL is not exactly one read statement."""

    permanent = True


class TargetRefused(DatasourceError):
    """The datasource points somewhere the operator does not allow (or at Malleable itself)."""

    permanent = True


class PrivilegedRole(TargetRefused):
    """The datasource's role could do more than read (a superuser, server files, other sessions)."""


class ConnectFailed(DatasourceError):
    """The database could not be reached; it may be back on the next run."""


class AuthenticationFailed(ConnectFailed):
    """The database was reached and refused the credentials: retrying will not help."""

    permanent = True


class QueryFailed(DatasourceError):
    """The database ran the query and reported an error (permanent for SQL and privilege errors)."""


class QueryTimeout(QueryFailed):
    """The query ran past the datasource's statement timeout and was cancelled."""


class DatasetTooLarge(QueryFailed):
    """The rows came to more bytes than the dataset byte cap: reading stopped there.

    ``fetched`` rows were read before the cap was passed; ``cap`` is the cap in bytes.
    """

    permanent = True

    def __init__(self, message: str, *, fetched: int, cap: int) -> None:
        super().__init__(message)
        self.fetched = fetched
        self.cap = cap
