"""The shop databases the datasource tests attack, and how to reach them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from checkers.datasources import ConnectionSpec, Engine, TargetPolicy, engine_for

READER_PASSWORD = "Rd-pa55/w:rd@x%"
# The test databases run on this machine, which the outbound policy refuses unless listed.
THIS_MACHINE = ("127.0.0.1",)
LOCAL_POLICY = TargetPolicy(allowed_hosts=THIS_MACHINE)
USERS = [(n, f"user{n:02d}", None if n % 5 == 0 else f"user{n:02d}@example.com") for n in range(1, 26)]
TIMEOUT_S = 1.0


@dataclass
class Shop:
    """One throwaway database: how to reach it as each role, and what it holds."""

    engine: str
    database: str
    host: str = ""
    port: int = 0
    superuser: str = ""
    reader: str = ""
    path: Path | None = None
    policy: TargetPolicy = field(default_factory=TargetPolicy)
    read_users: Callable[[], list[tuple[Any, ...]]] = list

    def url(self, role: str = "superuser") -> str:
        if self.engine == "sqlite":
            return f"sqlite:///{self.path}"
        user = self.reader if role == "reader" else self.superuser
        return f"{self.engine}://{user}@{self.host}:{self.port}/{self.database}"

    def spec(self, role: str = "superuser", **overrides: Any) -> ConnectionSpec:
        password = READER_PASSWORD if role == "reader" else ""
        options = {"statement_timeout_s": TIMEOUT_S, "password": password} | overrides
        return ConnectionSpec(self.engine, self.url(role), **options)

    def engine_for(self, role: str = "superuser", **overrides: Any) -> Engine:
        return engine_for(self.spec(role, **overrides), self.policy)

    def users(self) -> list[tuple[Any, ...]]:
        return sorted(tuple(row) for row in self.read_users())


def reader_url_with_password(shop: Shop) -> str:
    """The reader's URL with the password inside it (URL-encoded), as some users write it."""
    return shop.url("reader").replace(f"{shop.reader}@", f"{shop.reader}:{quote(READER_PASSWORD, safe='')}@")
