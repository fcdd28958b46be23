"""Where a datasource may point: never at Malleable's own database, only at allowed hosts,
and SQLite files only inside the operator's directory.

Hosts are compared by the addresses they resolve to, so ``localhost``, ``127.0.0.1``, ``::1``
and this machine's own name are one machine. The addresses that were checked are the ones
the session connects to (``Target``), so DNS cannot answer differently in between.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checkers.datasources.base import Engine, Location, Target
from checkers.datasources.errors import ConnectFailed, TargetRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TargetPolicy:
    """The operator's rules, passed in by the caller (this package reads no settings).

    ``own_databases``: Django ``DATABASES`` entries (values), test names included.
    ``allowed_hosts``: None allows any host; a list allows only those names, IPs or CIDR
    networks (an empty list allows none). ``sqlite_dir``: None refuses every SQLite file;
    Django passes the namespace's own directory, so one namespace never opens another's file.
    ``allow_privileged_roles``: False refuses a session whose role could do more than read
    (see ``Engine.privileges``), checked once per new connection.
    """

    own_databases: Sequence[Mapping[str, Any]] = ()
    allowed_hosts: Sequence[str] | None = None
    sqlite_dir: Path | None = None
    allow_privileged_roles: bool = False


def vet(engine: type[Engine], location: Location, policy: TargetPolicy) -> Target:
    """The pinned target for ``location``, or ``TargetRefused`` saying which rule refused it."""
    if engine.name == "sqlite":
        return Target(path=_vet_sqlite(engine, location, policy))
    port = location.port or engine.default_port
    addresses = _resolve(location.host)
    if not addresses:
        raise ConnectFailed(f"the host {location.host!r} does not resolve to any address")
    for entry in policy.own_databases:
        if _is_own_server(engine, entry, addresses, port) and (
            engine.server_scoped or location.database in _own_names(entry)
        ):
            what = "server" if engine.server_scoped else f"database {location.database!r}"
            raise TargetRefused(
                f"the datasource points at Malleable's own {engine.label} {what} "
                f"({location.host}:{port}); point it at the production database you want to check"
            )
    _check_allowed(location.host, addresses, policy.allowed_hosts)
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
    engine: type[Engine], entry: Mapping[str, Any], addresses: list[IPAddress], port: int | None
) -> bool:
    if not _same_engine(engine, entry):
        return False
    host = str(entry.get("HOST") or "")
    own_port = int(entry.get("PORT") or engine.default_port or 0)
    if own_port != port:
        return False
    # An empty HOST or a socket directory is this machine.
    own = _resolve_quietly(host) if host and not host.startswith("/") else [ipaddress.ip_address("127.0.0.1")]
    if any(_is_this_machine(a) for a in addresses) and any(_is_this_machine(a) for a in own):
        return True
    return bool(set(addresses) & set(own))


def _check_allowed(host: str, addresses: list[IPAddress], allowed_hosts: Sequence[str] | None) -> None:
    if allowed_hosts is None:
        return
    names, networks = _parse_allowed(allowed_hosts)
    if host.lower() in names:
        return
    if networks and all(any(address in network for network in networks) for address in addresses):
        return
    listed = ", ".join(allowed_hosts) or "none"
    raise TargetRefused(f"the host {host!r} is not one of the operator's allowed datasource hosts ({listed})")


def _parse_allowed(entries: Sequence[str]) -> tuple[set[str], list[IPNetwork]]:
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in (raw.strip().lower().rstrip(".") for raw in entries):
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry)
    return names, networks


def _resolve(host: str) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order, without duplicates."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ConnectFailed(f"the host {host!r} cannot be resolved: {exc}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = _normal(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
        if address not in addresses:
            addresses.append(address)
    return addresses


def _normal(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _resolve_quietly(host: str) -> list[IPAddress]:
    """For names Malleable itself uses: one that does not resolve here matches nothing."""
    try:
        return _resolve(host)
    except ConnectFailed:
        return []


@functools.cache
def _machine_addresses() -> frozenset[IPAddress]:
    """The addresses this machine's own names resolve to (besides loopback)."""
    return frozenset(
        address for name in {socket.gethostname(), socket.getfqdn()} for address in _resolve_quietly(name)
    )


def _is_this_machine(address: IPAddress) -> bool:
    return address.is_loopback or address.is_unspecified or address in _machine_addresses()
