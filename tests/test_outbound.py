"""The one outbound address policy (malleable/outbound.py), on its own: what it refuses by
default, what listing allows, and Malleable's own services read from its settings."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from malleable import outbound
from malleable.outbound import OutboundPolicy, OutboundRefused, OwnService, Unresolvable

DEFAULT = OutboundPolicy(setting="MALLEABLE_CHANNEL_ALLOWED_HOSTS", what="channel host")


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "a loopback address (this machine)"),
        ("127.9.9.9", "a loopback address (this machine)"),
        ("::1", "a loopback address (this machine)"),
        ("[::1]", "a loopback address (this machine)"),
        ("::ffff:127.0.0.1", "a loopback address (this machine)"),
        ("0.0.0.0", "an unspecified address (this machine)"),  # noqa: S104
        ("0.1.2.3", "an unspecified address (this machine)"),
        ("::", "an unspecified address (this machine)"),
        ("169.254.169.254", "a link-local address (where cloud metadata services answer)"),
        ("fe80::1", "a link-local address (where cloud metadata services answer)"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("64:ff9b::7f00:1", "a loopback address (this machine)"),
        ("2002:a9fe:a9fe::1", "a link-local address (where cloud metadata services answer)"),
    ],
)
def test_the_default_refuses_this_machine_and_its_neighbours(host, reason):
    with pytest.raises(OutboundRefused) as caught:
        DEFAULT.vet(host)
    assert str(caught.value) == (
        f"the channel host {host!r} is {reason}; Malleable does not connect there unless the "
        "operator lists it in MALLEABLE_CHANNEL_ALLOWED_HOSTS"
    )


def test_a_name_is_judged_by_what_it_resolves_to():
    with pytest.raises(
        OutboundRefused, match=r"^the channel host 'localhost' resolves to 127\.0\.0\.1, which is a loopback"
    ):
        DEFAULT.vet("localhost")


@pytest.mark.parametrize(
    "allowed", [["127.0.0.1"], ["localhost"], ["LOCALHOST."], ["127.0.0.0/8"], ["0.0.0.0/0", "::/0"]]
)
def test_a_listed_host_passes(allowed):
    policy = OutboundPolicy(allowed=allowed)
    assert policy.vet("localhost" if "localhost" in str(allowed).lower() else "127.0.0.1")


def test_listing_one_address_allows_no_other():
    policy = OutboundPolicy(allowed=["127.0.0.1"])
    with pytest.raises(OutboundRefused, match=r"'169\.254\.169\.254' is a link-local address"):
        policy.vet("169.254.169.254")


@pytest.mark.parametrize("host", ["10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fd00::1"])
def test_private_ranges_are_allowed_by_default_and_refused_when_the_operator_says(host):
    assert DEFAULT.vet(host) == (outbound.normal_address(outbound.resolve(host)[0]),)
    strict = OutboundPolicy(refuse_private=True, setting="X")
    with pytest.raises(OutboundRefused, match=r"is a private-network address; .* lists it in X"):
        strict.vet(host)


def test_a_public_address_passes():
    assert [str(a) for a in DEFAULT.vet("192.0.2.10")] == ["192.0.2.10"]


def test_only_allowed_refuses_everything_unlisted():
    policy = OutboundPolicy(allowed=["db.internal"], only_allowed=True, what="datasource host")
    with pytest.raises(
        OutboundRefused,
        match=r"^the datasource host '192.0.2.10' is not one of the operator's allowed datasource hosts "
        r"\(db.internal\)$",
    ):
        policy.vet("192.0.2.10")


def test_a_name_that_does_not_resolve_is_transient():
    with pytest.raises(Unresolvable, match="cannot be resolved") as caught:
        DEFAULT.vet("no-such-host.invalid")
    assert not caught.value.permanent


def _settings(**overrides):
    values = {
        "DATABASES": {"default": {"HOST": "192.0.2.5"}, "replica": {"HOST": "/var/run/postgresql"}},
        "CELERY_BROKER_URL": "amqp://worker:secret@192.0.2.6:5672//",
        "ALARM_BROKER_URL": "",
        "ALARM_BROKERS": ["redis://192.0.2.7:6379/0"],
        "SITE_URL": "https://192.0.2.8",
        "EMAIL_HOST": "192.0.2.9",
    }
    return SimpleNamespace(**(values | overrides))


def test_own_services_come_from_the_settings():
    assert outbound.own_services(_settings()) == (
        OwnService("database", "192.0.2.5"),
        OwnService("broker", "192.0.2.6"),
        OwnService("broker", "192.0.2.7"),
        OwnService("web address", "192.0.2.8"),
        OwnService("mail server", "192.0.2.9"),
    )


@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("192.0.2.5", "database"),
        ("192.0.2.6", "broker"),
        ("192.0.2.7", "broker"),
        ("192.0.2.8", "web address"),
        ("192.0.2.9", "mail server"),
    ],
)
def test_malleables_own_services_are_refused_unless_listed(host, service):
    policy = OutboundPolicy(own_services=outbound.own_services(_settings()), setting="S")
    with pytest.raises(OutboundRefused, match=f"is the address of Malleable's own {service}; "):
        policy.vet(host)
    listed = OutboundPolicy(allowed=[host], own_services=policy.own_services)
    assert [str(a) for a in listed.vet(host)] == [host]


def test_this_machines_own_addresses_are_refused(monkeypatch):
    monkeypatch.setattr(outbound, "machine_addresses", lambda: frozenset({outbound.resolve("192.0.2.77")[0]}))
    with pytest.raises(OutboundRefused, match="is an address of this machine"):
        DEFAULT.vet("192.0.2.77")


def test_the_unreachable_message_is_one_sentence():
    assert outbound.unreachable("the webhook at hooks.example.com", 10) == (
        "the webhook at hooks.example.com could not be reached or did not accept the connection "
        "(refused, unreachable, no answer within 10 s, or an error answer)"
    )
