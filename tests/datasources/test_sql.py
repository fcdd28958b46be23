"""validate_sql: exactly one read statement, with errors that say what and where."""

from __future__ import annotations

import pytest

from checkers.datasources import SqlRejected, validate_sql

READS = [
    ("postgresql", "SELECT username FROM users WHERE email IS NULL"),
    ("postgresql", "WITH recent AS (SELECT * FROM users WHERE id > 10) SELECT count(*) FROM recent"),
    ("postgresql", "SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 3"),
    ("postgresql", "VALUES (1, 'a'), (2, 'b')"),
    ("postgresql", "TABLE users"),
    ("postgresql", "SELECT DISTINCT ON (a) a, b FROM t ORDER BY a, b"),
    ("postgresql", "SELECT data->>'k', x::numeric, ARRAY[1, 2] FROM t WHERE y = ANY('{1,2}'::int[])"),
    ("postgresql", "SELECT count(*) FILTER (WHERE email IS NULL) FROM users"),
    ("postgresql", "SELECT '100%', '{}', $$a;b$$"),
    ("postgresql", "-- the seed's dataset\nSELECT username FROM users WHERE email IS NULL;"),
    ("mysql", "SELECT `username` FROM users WHERE email IS NULL LIMIT 10"),
    ("mysql", "SHOW SLAVE STATUS"),
    ("sqlite", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5) SELECT x FROM c"),
]


@pytest.mark.parametrize(("engine", "sql"), READS)
def test_reads_are_accepted(engine, sql):
    assert validate_sql(sql, engine) == sql.strip().rstrip(";")


def test_trailing_semicolons_and_blank_statements_are_dropped():
    assert validate_sql("SELECT 1 ;; \n", "postgresql") == "SELECT 1"


def test_a_second_statement_is_named_with_its_line():
    with pytest.raises(SqlRejected) as caught:
        validate_sql("SELECT 1;\n-- then\n  DELETE FROM users;", "postgresql")
    assert str(caught.value) == (
        "dataset SQL must be one statement; found 2 (the second starts at line 3: DELETE FROM users)"
    )
    assert caught.value.permanent


def test_semicolons_inside_strings_do_not_split():
    assert validate_sql("SELECT 'a;b', \"c;d\" FROM t", "postgresql")


@pytest.mark.parametrize(
    ("engine", "sql", "reason"),
    [
        (
            "postgresql",
            "WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d",
            "contains a DELETE statement",
        ),
        ("postgresql", "SELECT * FROM users FOR UPDATE", "locking clause"),
        ("postgresql", "SELECT * FROM users FOR SHARE", "locking clause"),
        ("postgresql", "SELECT nextval('s')", "calls nextval()"),
        ("postgresql", "SELECT pg_catalog.set_config('statement_timeout', '0', false)", "calls set_config()"),
        ("postgresql", "SELECT pg_advisory_lock(1)", "calls pg_advisory_lock()"),
        ("postgresql", "SELECT pg_read_file('/etc/passwd')", "calls pg_read_file()"),
        ("postgresql", "SELECT lo_export(1, '/tmp/x')", "calls lo_export()"),
        ("postgresql", "SELECT query_to_xml('DELETE FROM users', true, true, '')", "calls query_to_xml()"),
        ("postgresql", "SELECT * INTO copy_of_users FROM users", "SELECT ... INTO"),
        ("postgresql", "COPY (SELECT 1) TO PROGRAM 'touch /tmp/pwned'", "this is a COPY statement"),
        ("postgresql", "INSERT INTO users VALUES (1, 'a', 'b')", "this is an INSERT statement"),
        ("postgresql", "UPDATE users SET email = NULL", "this is an UPDATE statement"),
        ("postgresql", "DELETE FROM users", "this is a DELETE statement"),
        ("postgresql", "DROP TABLE users", "this is a DROP statement"),
        ("postgresql", "EXPLAIN ANALYZE DELETE FROM users", "this is an EXPLAIN statement"),
        ("postgresql", "DO $$ BEGIN DELETE FROM users; END $$", "this is a DO statement"),
        ("postgresql", "SET default_transaction_read_only = off", "this is a SET statement"),
        ("mysql", "SET SESSION TRANSACTION READ WRITE", "this is a SET statement"),
        ("mysql", "SELECT * FROM users LOCK IN SHARE MODE", "locking clause"),
        ("mysql", "SELECT GET_LOCK('x', 10)", "calls get_lock()"),
        ("mysql", "SELECT LOAD_FILE('/etc/passwd')", "calls load_file()"),
        ("mysql", "SELECT * FROM users INTO OUTFILE '/tmp/pwned'", "'OUTFILE' writes server files"),
        ("mysql", "SELECT 1 /*! INTO OUTFILE '/tmp/pwned' */", "'/*!' writes server files or hides SQL"),
        ("mysql", "SELECT 1 /*M! , SLEEP(100) */", "'/*M!' writes server files or hides SQL"),
        ("sqlite", "PRAGMA query_only = OFF", "this is a PRAGMA statement"),
        ("sqlite", "ATTACH DATABASE '/etc/x.db' AS x", "this is an ATTACH statement"),
        ("sqlite", "SELECT load_extension('/tmp/evil')", "calls load_extension()"),
        ("postgresql", "SHOW ALL", "must be a read"),
    ],
)
def test_writes_locks_and_side_effects_are_refused(engine, sql, reason):
    with pytest.raises(SqlRejected) as caught:
        validate_sql(sql, engine)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("", "dataset SQL is empty"),
        (" ;\n; ", "dataset SQL is empty"),
        ("SELEC 1", "dataset SQL does not parse at line 1, column 7 near '1'"),
        ("SELECT 'unterminated", "dataset SQL cannot be read"),
    ],
)
def test_unreadable_sql_says_where(sql, message):
    with pytest.raises(SqlRejected, match="^" + message.replace("(", r"\(")):
        validate_sql(sql, "postgresql")


def test_an_unknown_engine_is_named():
    with pytest.raises(Exception, match="unknown engine 'oracle'"):
        validate_sql("SELECT 1", "oracle")
