"""Where a datasource may point: never at Malleable's own database, only where the outbound
policy allows (``malleable.outbound``: no loopback, link-local or own service unless listed,
and only the listed hosts when the operator keeps a list), and SQLite files only inside the
operator's directory.

Hosts are compared by the addresses they resolve to, so ``localhost``, ``127.0.0.1``, ``::1``
and this machine's own name are one machine. The addresses that were checked are the ones
the session connects to (``Target``), so DNS cannot answer differently in between.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checkers.datasources.base import Engine, Location, Target
from checkers.datasources.errors import ConnectFailed, TargetRefused
from malleable import outbound

IPAddress = outbound.IPAddress
ALLOWED_HOSTS_SETTING = "MALLEABLE_DATASOURCE_ALLOWED_HOSTS"


@dataclass(frozen=True)
class TargetPolicy:
    """The operator's rules, passed in by the caller (this package reads no settings).

    ``own_databases``: Django ``DATABASES`` entries (values), test names included.
    ``allowed_hosts``: None allows any host the outbound policy allows; a list allows only
    those names, IPs or CIDR networks (an empty list allows none), loopback included when
    listed. ``own_services``: Malleable's other hosts, refused unless listed.
    ``refuse_private``: refuse private ranges too. ``sqlite_dir``: None refuses every SQLite
    file; Django passes the namespace's own directory, so one namespace never opens another's.
    ``allow_privileged_roles``: False refuses a session whose role could do more than read
    (see ``Engine.privileges``), checked once per new connection.
    """

    own_databases: Sequence[Mapping[str, Any]] = ()
    allowed_hosts: Sequence[str] | None = None
    sqlite_dir: Path | None = None
    allow_privileged_roles: bool = False
    own_services: Sequence[outbound.OwnService] = ()
    refuse_private: bool = False

    @property
    def outbound(self) -> outbound.OutboundPolicy:
        return outbound.OutboundPolicy(
            allowed=tuple(self.allowed_hosts or ()),
            only_allowed=self.allowed_hosts is not None,
            own_services=tuple(self.own_services),
            refuse_private=self.refuse_private,
            setting=ALLOWED_HOSTS_SETTING,
            what="datasource host",
        )


def vet(engine: type[Engine], location: Location, policy: TargetPolicy) -> Target:
    """The pinned target for ``location``, or ``TargetRefused`` saying which rule refused it."""
    if engine.name == "sqlite":
        return Target(path=_vet_sqlite(engine, location, policy))
    port = location.port or engine.default_port
    addresses = list(_resolve(location.host))
    for entry in policy.own_databases:
        if _is_own_server(engine, entry, addresses, port) and (
            engine.server_scoped or location.database in _own_names(entry)
        ):
            what = "server" if engine.server_scoped else f"database {location.database!r}"
            raise TargetRefused(
                f"the datasource points at Malleable's own {engine.label} {what} "
                f"({location.host}:{port}); point it at the production database you want to check"
            )
    try:
        policy.outbound.check(location.host, addresses)
    except outbound.OutboundRefused as exc:
        raise TargetRefused(str(exc)) from None
    return Target(addresses=tuple(str(address) for address in addresses))


def _vet_sqlite(engine: type[Engine], location: Location, policy: TargetPolicy) -> Path:
    if policy.sqlite_dir is None:
        raise TargetRefused("SQLite datasources are disabled: the operator has not set a directory for them")
    root = Path(os.path.realpath(policy.sqlite_dir))
    given = Path(location.path)
    real = Path(os.path.realpath(given if given.is_absolute() else root / given))
    if real == root or not real.is_relative_to(root):
        raise TargetRefused(
            f"the SQLite file {location.path!r} is outside the directory allowed for SQLite datasources "
            "(paths are resolved, so '..' and symbolic links that lead out are refused)"
        )
    for entry in policy.own_databases:
        if _same_engine(engine, entry) and real in _own_sqlite_paths(entry):
            raise TargetRefused("the SQLite datasource is Malleable's own database")
    return real


def _same_engine(engine: type[Engine], entry: Mapping[str, Any]) -> bool:
    backend = str(entry.get("ENGINE", "")).rsplit(".", 1)[-1]
    return backend in engine.django_backends


def _own_names(entry: Mapping[str, Any]) -> set[str]:
    """The database's name, its test name and Django's default test name."""
    name = str(entry.get("NAME") or "")
    test_name = str((entry.get("TEST") or {}).get("NAME") or "")
    return {candidate for candidate in (name, test_name, f"test_{name}" if name else "") if candidate}


def _own_sqlite_paths(entry: Mapping[str, Any]) -> set[Path]:
    in_memory = (":memory:", "mode=memory")
    return {
        Path(os.path.realpath(name))
        for name in _own_names(entry)
        if not any(marker in name for marker in in_memory) and not name.startswith("file:")
    }


def _is_own_server(
    engine: type[Engine], entry: Mapping[str, Any], addresses: Sequence[IPAddress], port: int | None
) -> bool:
    if not _same_engine(engine, entry):
        return False
    host = str(entry.get("HOST") or "")
    own_port = int(entry.get("PORT") or engine.default_port or 0)
    if own_port != port:
        return False
    # An empty HOST or a socket directory is this machine.
    local = (ipaddress.ip_address("127.0.0.1"),)
    own = outbound.own_addresses(host) if host and not host.startswith("/") else local
    if any(_is_this_machine(a) for a in addresses) and any(_is_this_machine(a) for a in own):
        return True
    return bool(set(addresses) & set(own))


def _resolve(host: str) -> tuple[IPAddress, ...]:
    try:
        return outbound.resolve(host)
    except outbound.Unresolvable as exc:
        raise ConnectFailed(str(exc)) from None


def _is_this_machine(address: IPAddress) -> bool:
    return address.is_loopback or address.is_unspecified or address in outbound.machine_addresses()
