"""Errors name the database's message and never the password: not in str, repr, args,
tracebacks or logs, whether the password was given apart or inside the URL."""

from __future__ import annotations

import logging
import traceback

import pytest

from checkers.datasources import (
    AuthenticationFailed,
    ConnectFailed,
    ConnectionSpec,
    DatasourceError,
    InvalidSpec,
    fetch,
    scrub,
    test_connection,
)
from tests.datasources.shops import LOCAL_POLICY, READER_PASSWORD, reader_url_with_password

SECRET = "hunter2-Sup3r.S3cret"


def _leaks(exc: BaseException, secret: str) -> list[str]:
    """Everywhere a secret could surface from an exception, that holds it."""
    places = {
        "str": str(exc),
        "repr": repr(exc),
        "args": repr(exc.args),
        "traceback": "".join(traceback.format_exception(exc)),
    }
    return [name for name, text in places.items() if secret in text]


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("auth failed for hunter2", ["hunter2"], "auth failed for ***"),
        ("url postgresql://u:hunter2%2Fx@h/db", [], "url postgresql://u:***@h/db"),
        ("dsn host=h password=hunter2 user=u", [], "dsn host=h password=*** user=u"),
        ("dsn PASSWORD = 'hunter 2' x", [], "dsn PASSWORD = *** x"),
        ("quoted a%2Fb", ["a/b"], "quoted ***"),
        ("plus a+b", ["a b"], "plus ***"),
        ("nothing to hide (using password: YES)", ["zzz"], "nothing to hide (using password: YES)"),
    ],
)
def test_scrub_masks_secrets_urls_and_key_values(text, secrets, expected):
    assert scrub(text, secrets) == expected


def test_a_spec_never_shows_its_passwords():
    spec = ConnectionSpec("postgresql", f"postgresql://reader:{SECRET}@db.example:5432/shop", password=SECRET)
    for text in (repr(spec), str(spec), f"{spec!r}"):
        assert SECRET not in text
    assert "postgresql://reader:***@db.example:5432/shop" in repr(spec)


def test_an_unencoded_slash_in_the_password_leaks_no_part_of_it():
    url = f"postgresql://reader:{SECRET}/rest@db.example:5432/shop"
    with pytest.raises(InvalidSpec, match="percent-encode") as caught:
        ConnectionSpec("postgresql", url)
    assert _leaks(caught.value, SECRET) == []


def test_the_separate_password_wins_over_the_urls():
    spec = ConnectionSpec("postgresql", "postgresql://reader:from-url@h/shop", password="apart")
    assert spec.effective_password == "apart"
    assert (
        ConnectionSpec("postgresql", "postgresql://reader:from-url@h/shop").effective_password == "from-url"
    )


@pytest.mark.parametrize(
    ("engine", "url", "message"),
    [
        ("postgresql", f"mysql://reader:{SECRET}@h/shop", "a PostgreSQL URL starts with postgresql://"),
        ("postgresql", f"postgresql://reader:{SECRET}@h:99999/shop", "the URL is malformed"),
        ("postgresql", f"postgresql://reader:{SECRET}@h/shop?host=evil", "unsupported URL parameter 'host'"),
        ("postgresql", f"postgresql://reader:{SECRET}@h/shop?sslmode=maybe", "sslmode='maybe'"),
        ("postgresql", f"postgresql://reader:{SECRET}@h1,h2/shop", "one host"),
        ("postgresql", f"postgresql://reader:{SECRET}@/shop", "needs a host"),
        ("postgresql", f"postgresql://reader:{SECRET}@h", "ends with the database name"),
        ("mysql", f"mysql://:{SECRET}@h/shop", "names its user"),
        ("mysql", f"mysql://reader:{SECRET}@h/shop?ssl=sometimes", "ssl='sometimes'"),
        ("oracle", f"oracle://reader:{SECRET}@h/shop", "unknown engine 'oracle'"),
    ],
)
def test_a_malformed_spec_says_what_without_the_password(engine, url, message):
    with pytest.raises(InvalidSpec, match=message.replace("(", r"\(").replace("?", r"\?")) as caught:
        ConnectionSpec(engine, url, password=SECRET)
    assert caught.value.permanent
    assert _leaks(caught.value, SECRET) == []


@pytest.mark.parametrize(
    ("timeout", "cap"), [(0, 1), (-1, 1), (float("nan"), 1), (1, 0), (1, True), (1, 1.5)]
)
def test_timeouts_and_caps_must_make_sense(timeout, cap):
    with pytest.raises(InvalidSpec):
        ConnectionSpec("sqlite", "sqlite:shop.sqlite3", statement_timeout_s=timeout, row_cap=cap)


def test_a_refused_connection_is_transient_and_clean():
    spec = ConnectionSpec(
        "postgresql", f"postgresql://reader:{SECRET}@127.0.0.1:1/shop", statement_timeout_s=1
    )
    with pytest.raises(ConnectFailed) as caught:
        fetch(spec, "SELECT 1", policy=LOCAL_POLICY)
    assert not caught.value.permanent
    assert "PostgreSQL" in str(caught.value)
    assert _leaks(caught.value, SECRET) == []


def test_postgresql_echoing_the_password_is_scrubbed(pg_shop):
    """A server message that happens to contain the password (here: the database's name)."""
    url = pg_shop.url("reader").replace(pg_shop.database, SECRET)
    with pytest.raises(DatasourceError) as caught:
        fetch(ConnectionSpec("postgresql", url, password=SECRET), "SELECT 1", policy=pg_shop.policy)
    assert 'database "***" does not exist' in str(caught.value)
    assert caught.value.permanent
    assert _leaks(caught.value, SECRET) == []


def test_a_mariadb_wrong_password_is_refused_without_showing_it(mariadb_shop, caplog):
    spec = ConnectionSpec("mysql", mariadb_shop.url("reader"), password=SECRET, statement_timeout_s=1)
    with pytest.raises(AuthenticationFailed) as caught:
        test_connection(spec, policy=mariadb_shop.policy)
    assert caught.value.permanent
    assert "Access denied" in str(caught.value)
    logging.getLogger("malleable.test").exception("test connection failed", exc_info=caught.value)
    assert SECRET not in caplog.text
    assert _leaks(caught.value, SECRET) == []


def test_a_mariadb_password_inside_the_url_works_and_stays_hidden(mariadb_shop):
    url = reader_url_with_password(mariadb_shop)
    spec = ConnectionSpec("mysql", url, statement_timeout_s=1)
    assert "read-only session OK" in test_connection(spec, policy=mariadb_shop.policy)
    assert READER_PASSWORD not in repr(spec)


def test_the_original_driver_exception_is_not_chained(mariadb_shop):
    """A chained driver error would print its own, unscrubbed message in every traceback."""
    spec = ConnectionSpec("mysql", mariadb_shop.url("reader"), password=SECRET, statement_timeout_s=1)
    with pytest.raises(AuthenticationFailed) as caught:
        fetch(spec, "SELECT 1", policy=mariadb_shop.policy)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_postgresql_role_that_does_not_exist_is_an_authentication_failure(pg_shop):
    url = pg_shop.url("reader").replace(pg_shop.reader, "malleable_nobody")
    with pytest.raises(AuthenticationFailed, match='role "malleable_nobody" does not exist') as caught:
        test_connection(ConnectionSpec("postgresql", url, password=SECRET), policy=pg_shop.policy)
    assert caught.value.permanent
    assert _leaks(caught.value, SECRET) == []
