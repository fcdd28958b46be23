"""One outbound address policy for every connection Malleable makes on a tenant's behalf.

Datasources (``checkers.datasources.target``), webhooks and apprise channels (``alarms.transports``)
ask the same question before they connect: may a tenant make Malleable talk to this host? A
tenant must not reach what only Malleable can reach: this machine (loopback, unspecified),
the cloud's metadata service and other link-local neighbours, multicast groups, and the
hosts of Malleable's own services (its database, brokers, web address and mail server),
unless the operator lists them. Private (RFC 1918, unique-local, shared) ranges are allowed
by default, since self-hosted teams keep their databases and webhooks there; an operator
who runs Malleable for strangers refuses them too (``refuse_private``).

A host is resolved once (``vet``) and the addresses that passed are the ones the caller
connects to, so a DNS answer that changes in between cannot redirect the connection.

This module imports nothing from Django: callers pass the operator's settings in, so
``checkers.datasources`` stays a library.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Allowed unless the operator refuses them: where self-hosted teams keep their services.
PRIVATE_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
# Seconds the addresses of Malleable's own hosts are remembered.
OWN_ADDRESSES_TTL_S = 60
# IPv6 prefixes that carry an IPv4 address a gateway may deliver to (NAT64, 6to4).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundError(Exception):
    """The host may not or cannot be reached; the message names the host and the reason."""

    permanent = True


class OutboundRefused(OutboundError):
    """The policy refuses the host: fix the address or ask the operator to list it."""


class Unresolvable(OutboundError):
    """The name does not resolve now; it may later."""

    permanent = False


def unreachable(where: str, timeout_s: float) -> str:
    """The one message for every way a vetted target can fail to answer.

    A closed port, a filtered one, a reset, a TLS failure, a protocol the client does not
    speak and an error answer all read the same, so a tenant cannot map ports through it.
    """
    return (
        f"{where} could not be reached or did not accept the connection "
        f"(refused, unreachable, no answer within {timeout_s:g} s, or an error answer)"
    )


@dataclass(frozen=True)
class OwnService:
    """One of Malleable's own services, by the host name or address it is configured with."""

    label: str
    host: str


@dataclass(frozen=True)
class OutboundPolicy:
    """The operator's rules for one kind of outbound connection.

    ``allowed``: names, addresses or CIDR networks the operator lists; a host listed by name,
    or whose every address is in a listed network, passes every rule below.
    ``only_allowed``: nothing else passes (a datasource allow-list that is set).
    ``own_services``: Malleable's own hosts, refused like loopback.
    ``setting``: the variable an operator sets to list a host, named in every refusal.
    """

    allowed: Sequence[str] = ()
    only_allowed: bool = False
    own_services: Sequence[OwnService] = ()
    refuse_private: bool = False
    setting: str = "the operator's allow-list"
    what: str = "host"

    def vet(self, host: str) -> tuple[IPAddress, ...]:
        """The addresses to connect to, or ``OutboundRefused`` / ``Unresolvable`` saying why not."""
        addresses = resolve(host)
        self.check(host, addresses)
        return addresses

    def check(self, host: str, addresses: Sequence[IPAddress]) -> None:
        """``OutboundRefused`` unless every address ``host`` resolved to may be reached."""
        if self.is_listed(host, addresses):
            return
        if self.only_allowed:
            listed = ", ".join(self.allowed) or "none"
            raise OutboundRefused(
                f"the {self.what} {host!r} is not one of the operator's allowed {self.what}s ({listed})"
            )
        for address in addresses:
            reason = self.refusal(address)
            if reason:
                shown = f"{host!r}" if is_address(host) else f"{host!r} resolves to {address}, which"
                raise OutboundRefused(
                    f"the {self.what} {shown} is {reason}; Malleable does not connect there "
                    f"unless the operator lists it in {self.setting}"
                )

    def is_listed(self, host: str, addresses: Sequence[IPAddress]) -> bool:
        names, networks = _parsed_allowed(tuple(self.allowed))
        if normal_name(host) in names:
            return True
        return bool(networks) and all(any(a in network for network in networks) for a in addresses)

    def refusal(self, address: IPAddress) -> str:
        """Why ``address`` is refused (a phrase), or '' when it may be reached."""
        for candidate in _routed(address):
            reason = _special(candidate) or self._own(candidate)
            if not reason and self.refuse_private and any(candidate in n for n in PRIVATE_NETWORKS):
                reason = "a private-network address"
            if reason:
                return reason
        return ""

    def _own(self, address: IPAddress) -> str:
        if address in machine_addresses():
            return "an address of this machine"
        for service in self.own_services:
            if address in own_addresses(service.host):
                return f"the address of Malleable's own {service.label}"
        return ""


def _special(address: IPAddress) -> str:
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_unspecified or address in ipaddress.ip_network("0.0.0.0/8"):
        return "an unspecified address (this machine)"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved or address == ipaddress.IPv4Address("255.255.255.255"):
        return "a reserved address"
    return ""


def _routed(address: IPAddress) -> list[IPAddress]:
    """What a connection to ``address`` may reach: itself, or the IPv4 address a NAT64 or 6to4
    gateway delivers it to (a NAT64 address is judged by its IPv4 address alone)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return [address]
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return [address, address.sixtofour] if address.sixtofour else [address]


def parse_allowed(entries: Iterable[str]) -> tuple[set[str], list[IPNetwork]]:
    """Names (lower case, no trailing dot) and networks (an address is a /32 or /128)."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in (normal_name(raw) for raw in entries if raw.strip()):
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry)
    return names, networks


@functools.lru_cache(maxsize=16)
def _parsed_allowed(entries: tuple[str, ...]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """``parse_allowed`` of a policy's list, once per process: every fetch and delivery asks."""
    names, networks = parse_allowed(entries)
    return frozenset(names), tuple(networks)


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def normal_name(host: str) -> str:
    return host.strip().lower().rstrip(".")


def resolve(host: str) -> tuple[IPAddress, ...]:
    """Every address ``host`` resolves to, in the resolver's order, without duplicates."""
    bare = host.strip("[]")
    try:
        infos = socket.getaddrinfo(bare, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(f"the host {host!r} cannot be resolved: {exc}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = normal_address(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise Unresolvable(f"the host {host!r} does not resolve to any address")
    return tuple(addresses)


def normal_address(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address is the IPv4 address it maps."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def resolve_quietly(host: str) -> tuple[IPAddress, ...]:
    """For names Malleable itself uses: one that does not resolve here matches nothing."""
    if not host or host.startswith("/"):
        return ()
    try:
        return resolve(host)
    except Unresolvable:
        return ()


def own_addresses(host: str) -> tuple[IPAddress, ...]:
    """What one of Malleable's own hosts resolves to, asked at most once a minute: every
    fetch and delivery checks against them, and they seldom move."""
    return _own_addresses(host, int(time.monotonic() // OWN_ADDRESSES_TTL_S))


@functools.lru_cache(maxsize=64)
def _own_addresses(host: str, _period: int) -> tuple[IPAddress, ...]:
    return resolve_quietly(host)


@functools.cache
def machine_addresses() -> frozenset[IPAddress]:
    """The addresses this machine's own names resolve to (besides loopback)."""
    return frozenset(
        address for name in {socket.gethostname(), socket.getfqdn()} for address in resolve_quietly(name)
    )


def own_services(settings: Any) -> tuple[OwnService, ...]:
    """Malleable's own services, read from a Django settings object (passed in, not imported).

    Its databases, its task and alarm brokers, its web address and its mail server: a tenant
    who could make Malleable connect there could write into them or read their answers.
    """
    found = [OwnService("database", str(entry.get("HOST") or "")) for entry in settings.DATABASES.values()]
    brokers = [settings.CELERY_BROKER_URL, settings.ALARM_BROKER_URL, *settings.ALARM_BROKERS]
    found += [OwnService("broker", url_host(url)) for url in brokers if url]
    found += [OwnService("web address", url_host(settings.SITE_URL))]
    found += [OwnService("mail server", str(getattr(settings, "EMAIL_HOST", "") or ""))]
    return tuple(service for service in found if service.host and not service.host.startswith("/"))


def url_host(url: str) -> str:
    try:
        return urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
