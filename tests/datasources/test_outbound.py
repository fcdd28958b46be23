"""Attacks on the outbound policy through datasources (issue 11, finding 4): with no allow-list
set, a datasource cannot point at this machine, cloud metadata or Malleable's own services,
and "Test connection" to a vetted host reads the same whatever its port did."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError

from checkers.datasources import ConnectFailed, ConnectionSpec, TargetRefused, test_connection
from checkers.models import Datasource
from tests.datasources.shops import LOCAL_POLICY

SETTING = (
    "; Malleable does not connect there unless the operator lists it in MALLEABLE_DATASOURCE_ALLOWED_HOSTS"
)


@pytest.fixture(autouse=True)
def _no_allow_list(settings):
    """The default an operator gets: MALLEABLE_DATASOURCE_ALLOWED_HOSTS unset."""
    settings.DATASOURCE_ALLOWED_HOSTS = []


def _refusal(personas, url: str, engine: str = "postgresql") -> str:
    source = Datasource(namespace=personas.a, slug="shop", engine=engine, url=url)
    with pytest.raises(ValidationError) as raised:
        source.full_clean()
    return raised.value.message_dict["url"][0]


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("127.0.0.1", "'127.0.0.1' is a loopback address (this machine)"),
        ("[::1]", "'::1' is a loopback address (this machine)"),
        (
            "169.254.169.254",
            "'169.254.169.254' is a link-local address (where cloud metadata services answer)",
        ),
        ("localhost", "'localhost' resolves to 127.0.0.1, which is a loopback address (this machine)"),
    ],
)
@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_a_datasource_at_this_machine_or_cloud_metadata_is_refused_at_save(db, personas, host, why, engine):
    """Any port, so "Test connection" is no port scanner of this machine (5432 would be the
    own-database rule's; 6379 is Redis)."""
    assert (
        _refusal(personas, f"{engine}://reader@{host}:6379/shop", engine)
        == f"the datasource host {why}{SETTING}"
    )


def test_a_datasource_at_malleables_database_or_broker_host_is_refused(db, personas, settings, monkeypatch):
    """Another database name and port on the database's host: the own-database rule lets it
    pass, the own-service rule does not."""
    monkeypatch.setitem(settings.DATABASES["default"], "HOST", "192.0.2.5")
    settings.CELERY_BROKER_URL = "redis://192.0.2.6:6379/0"
    for host, service in [("192.0.2.5", "database"), ("192.0.2.6", "broker")]:
        assert _refusal(personas, f"postgresql://reader@{host}:5433/shop") == (
            f"the datasource host '{host}' is the address of Malleable's own {service}{SETTING}"
        )


def test_a_listed_host_is_accepted(db, personas, settings):
    settings.DATASOURCE_ALLOWED_HOSTS = ["127.0.0.1"]
    Datasource(
        namespace=personas.a, slug="shop", engine="postgresql", url="postgresql://r@127.0.0.1:6379/x"
    ).full_clean()


def test_a_stored_datasource_at_this_machine_is_refused_at_test_connection(db, personas):
    """A row saved before the policy (or around it) is vetted again at every session."""
    source = Datasource.objects.create(
        namespace=personas.a, slug="shop", engine="postgresql", url="postgresql://reader@127.0.0.1:6379/shop"
    )
    with pytest.raises(TargetRefused, match=r"'127\.0\.0\.1' is a loopback address"):
        source.test_connection()


def test_the_test_connection_page_refuses_cloud_metadata(personas, login):
    data = {
        "name": "Shop",
        "slug": "shop",
        "engine": "postgresql",
        "url": "postgresql://reader@169.254.169.254:80/shop",
        "password": "",
        "statement_timeout": "1",
        "row_cap": "10",
        "max_concurrency": "1",
        "action": "test",
    }
    content = (
        login(personas.owner).post("/n/alpha/datasources/new/", data, HTTP_HX_REQUEST="true").content.decode()
    )
    assert "is a link-local address (where cloud metadata services answer)" in content
    assert not Datasource.objects.exists()


# --- Every failure reads the same ----------------------------------------------------------


@pytest.fixture
def ports() -> Iterator[dict[str, int]]:
    """A closed port, a silent one (accepts, never answers) and one speaking HTTP."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    http = socket.socket()
    http.bind(("127.0.0.1", 0))
    http.listen(8)

    def speak_http() -> None:
        while True:
            try:
                conn, _ = http.accept()
            except OSError:
                return
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nServer: internal-admin\r\n\r\n")
            conn.close()

    threading.Thread(target=speak_http, daemon=True).start()
    found = {
        name: sock.getsockname()[1] for name, sock in [("closed", closed), ("silent", silent), ("http", http)]
    }
    closed.close()
    yield found
    silent.close()
    http.close()


@pytest.mark.parametrize(
    ("engine", "label", "wait_s"), [("postgresql", "PostgreSQL", 2), ("mysql", "MySQL/MariaDB", 1)]
)
def test_test_connection_reads_the_same_whatever_the_port_did(ports, engine, label, wait_s):
    said = {}
    for what, port in ports.items():
        spec = ConnectionSpec(engine, f"{engine}://reader@127.0.0.1:{port}/shop", statement_timeout_s=0.5)
        with pytest.raises(ConnectFailed) as caught:
            test_connection(spec, policy=LOCAL_POLICY)
        assert not caught.value.permanent
        said[what] = str(caught.value).replace(str(port), "PORT")
    assert set(said.values()) == {
        f"{label} at 127.0.0.1:PORT could not be reached or did not accept the connection "
        f"(refused, unreachable, no answer within {wait_s} s, or an error answer)"
    }
