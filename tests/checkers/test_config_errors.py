"""Every error says FILE:LINE:COLUMN: KEY.PATH: what is wrong, and all of them come at once."""

from __future__ import annotations

import pytest

from checkers.models import Checker
from checks_as_code import config
from namespaces.models import Namespace
from tests.checkers.config_support import ENVIRON, locate, write
from tests.personas import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sqlite_dir")]

BASE = """\
namespaces:
  - slug: growth
    name: Growth team
    members: [{user: alice, role: owner}]
    datasources:
      - slug: shop
        engine: sqlite
        url: sqlite:///{dir}/shop.sqlite3
        password: ${SHOP_DB_PASSWORD}
        row_cap: 5000
    datasets:
      - slug: users_with_email_null
        datasource: shop
        sql: SELECT username FROM users WHERE email IS NULL
    checkers:
      - slug: few-null-emails
        schedule: "*/5 * * * *"
        rule: {dataset: users_with_email_null, metric: row_count, op: "<", value: 42,
               message: "There should be less than 42 users in that state"}
      - slug: seed-in-python
        schedule: {every: 300}
        datasets: [users_with_email_null]
        python: |
          CheckerCase().assertLessThan(datasets['users_with_email_null'], 42, 'too many')
"""
PYTHON_SOURCE = BASE[BASE.index("        python: |") :]
DATASOURCE = "namespaces[0].datasources[0]"
RULE_CHECKER = "namespaces[0].checkers[0]"
PYTHON_CHECKER = "namespaces[0].checkers[1]"


@pytest.fixture(autouse=True)
def alice(db):
    return make_user("alice")


def refused(tmp_path, text: str, environ=ENVIRON) -> tuple[str, list[config.ConfigError]]:
    text = text.replace("{dir}", str(tmp_path / "datasources" / "growth"))
    with pytest.raises(config.ConfigInvalid) as raised:
        config.import_file(write(tmp_path, text), environ=environ)
    assert not Namespace.objects.exists()
    return text, raised.value.errors


def test_the_base_file_is_valid(tmp_path):
    config.import_file(
        write(tmp_path, BASE.replace("{dir}", str(tmp_path / "datasources" / "growth"))), environ=ENVIRON
    )
    assert Checker.objects.count() == 2


# (what, old, new, where the error points, key path, words of the message)
CASES = [
    (
        "unknown key with a suggestion",
        "        row_cap: 5000\n",
        "        row_cap: 5000\n        statment_timeout: 5\n",
        "statment_timeout",
        f"{DATASOURCE}.statment_timeout",
        "unknown key `statment_timeout`: did you mean `statement_timeout`?",
    ),
    (
        "unknown key without a close match",
        "    name: Growth team\n",
        "    name: Growth team\n    colour: blue\n",
        "colour",
        "namespaces[0].colour",
        "unknown key `colour`: the keys here are slug, name, description",
    ),
    (
        "a dataset's sample that is not true or false",
        "        sql: SELECT username FROM users WHERE email IS NULL\n",
        '        sql: SELECT username FROM users WHERE email IS NULL\n        sample: "yes"\n',
        '"yes"',
        "namespaces[0].datasets[0].sample",
        "expected true or false, got a string, 'yes'",
    ),
    (
        "a dataset's sample given as a number",
        "        sql: SELECT username FROM users WHERE email IS NULL\n",
        "        sql: SELECT username FROM users WHERE email IS NULL\n        sample: 1\n",
        "1\n",
        "namespaces[0].datasets[0].sample",
        "expected true or false, got a number, 1",
    ),
    (
        "a mistyped sample key",
        "        sql: SELECT username FROM users WHERE email IS NULL\n",
        "        sql: SELECT username FROM users WHERE email IS NULL\n        sampled: true\n",
        "sampled",
        "namespaces[0].datasets[0].sampled",
        "unknown key `sampled`: did you mean `sample`?",
    ),
    (
        "wrong type",
        "row_cap: 5000",
        "row_cap: many",
        "many",
        f"{DATASOURCE}.row_cap",
        "expected a whole number, got a string, 'many'",
    ),
    (
        "a list where a mapping belongs",
        "  - slug: growth\n",
        "  - [growth]\n  - slug: growth\n",
        "[growth]",
        "namespaces[0]",
        "expected a namespace, a mapping with keys such as slug, name, description; got a list",
    ),
    (
        "bad cron",
        '"*/5 * * * *"',
        '"61 * * * *"',
        '"61 * * * *"',
        f"{RULE_CHECKER}.schedule",
        "'61 * * * *' is not a cron schedule: use five fields",
    ),
    (
        "interval too short",
        "{every: 300}",
        "{every: 5}",
        "{every: 5}",
        f"{PYTHON_CHECKER}.schedule",
        "An interval of 5 s is too short",
    ),
    (
        "missing env var",
        "password: ${SHOP_DB_PASSWORD}",
        "password: ${NOT_SET_ANYWHERE}",
        "${NOT_SET_ANYWHERE}",
        f"{DATASOURCE}.password",
        "environment variable NOT_SET_ANYWHERE is not set; it holds the password of datasource `shop`",
    ),
    (
        "dangling dataset reference",
        "datasets: [users_with_email_null]",
        "datasets: [users_with_email_nul]",
        "users_with_email_nul]",
        f"{PYTHON_CHECKER}.datasets[0]",
        "no dataset `users_with_email_nul` in namespace `growth`, in this file or the database: "
        "did you mean `users_with_email_null`?",
    ),
    (
        "dangling datasource reference",
        "        datasource: shop\n",
        "        datasource: warehouse\n",
        "warehouse",
        "namespaces[0].datasets[0].datasource",
        "no datasource `warehouse` in namespace `growth`, in this file or the database; it has shop",
    ),
    (
        "two kinds on one checker",
        "        datasets: [users_with_email_null]\n",
        '        datasets: [users_with_email_null]\n        rule: {dataset: users, op: "<"}\n',
        "python: |",
        f"{PYTHON_CHECKER}.python",
        "a checker is exactly one of rule (or rules), python, wat or wasm: this one also has `rule`",
    ),
    (
        "no kind at all",
        PYTHON_SOURCE,
        "",
        "slug: seed-in-python",
        f"{PYTHON_CHECKER}",
        "missing: a checker needs one of rule (or rules), python, wat or wasm",
    ),
    (
        "two statements of SQL",
        "sql: SELECT username FROM users WHERE email IS NULL",
        "sql: SELECT 1; SELECT 2",
        "SELECT 1; SELECT 2",
        "namespaces[0].datasets[0].sql",
        "dataset SQL must be one statement; found 2",
    ),
    (
        "a missing required key",
        "        engine: sqlite\n",
        "",
        "slug: shop",
        f"{DATASOURCE}.engine",
        "missing: a datasource needs `engine`",
    ),
    (
        "an unknown choice",
        "role: owner",
        "role: admin",
        "admin",
        "namespaces[0].members[0].role",
        "expected one of owner, editor, viewer, got a string, 'admin'",
    ),
    (
        "a user that does not exist",
        "user: alice",
        "user: carol",
        "carol",
        "namespaces[0].members[0].user",
        "no user `carol`: create it first, or import with --create-users",
    ),
    (
        "a duplicate slug",
        "    checkers:\n",
        '    checkers:\n      - {slug: seed-in-python, schedule: "* * * * *", python: pass}\n',
        "seed-in-python\n",
        "namespaces[0].checkers[2].slug",
        "duplicate slug `seed-in-python`: checkers of namespace `growth` already has one by that name above",
    ),
    (
        "a duplicate key",
        "        row_cap: 5000\n",
        "        row_cap: 5000\n        row_cap: 6000\n",
        "row_cap: 6000",
        f"{DATASOURCE}.row_cap",
        "duplicate key `row_cap`: it is already set above",
    ),
    (
        "a rule without its operator",
        'op: "<", ',
        "",
        "{dataset: users_with_email_null",
        f"{RULE_CHECKER}.rule.op",
        "missing: a rule needs `op`",
    ),
    (
        "a model validator: an unknown time zone",
        "    name: Growth team\n",
        "    name: Growth team\n    timezone: Mars/Olympus\n",
        "Mars/Olympus",
        "namespaces[0].timezone",
        "'Mars/Olympus' is not a known time zone",
    ),
    (
        "a model validator: a limit above its maximum",
        "row_cap: 5000",
        "row_cap: 5000000",
        "5000000",
        f"{DATASOURCE}.row_cap",
        "Ensure this value is less than or equal to 1000000.",
    ),
    (
        "a SQLite file outside the operator's directory",
        "url: sqlite:///{dir}/shop.sqlite3",
        "url: sqlite:////etc/shop.sqlite3",
        "sqlite:////etc",
        f"{DATASOURCE}.url",
        "outside the directory allowed for SQLite datasources",
    ),
    (
        "invalid WAT",
        PYTHON_SOURCE,
        '        wat: (module (func (export "check") (i32.add)))\n',
        "(module",
        f"{PYTHON_CHECKER}.wat",
        "the WAT is not a valid module: type mismatch",
    ),
    (
        "a wasm file that is not a module",
        PYTHON_SOURCE,
        "        wasm: growth.yaml\n",
        "growth.yaml",
        f"{PYTHON_CHECKER}.wasm",
        "growth.yaml is not a WebAssembly module",
    ),
    (
        "a wasm file that is not there",
        PYTHON_SOURCE,
        "        wasm: modules/nowhere.wasm\n",
        "modules/nowhere.wasm",
        f"{PYTHON_CHECKER}.wasm",
        "cannot read modules/nowhere.wasm (relative to the file's folder): No such file or directory",
    ),
    (
        "a mistyped top-level key",
        "namespaces:",
        "namespace:",
        "namespace:",
        "namespace",
        "unknown key `namespace`: did you mean `namespaces`?",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "needle", "path", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_points_at_the_line_column_and_key(tmp_path, old, new, needle, path, message):
    assert old in BASE
    text, errors = refused(tmp_path, BASE.replace(old, new, 1))

    matching = [error for error in errors if error.path == path]
    assert matching, f"no error at {path}; got: {[str(e) for e in errors]}"
    error = matching[0]
    line, column = locate(text, needle)
    assert (error.line, error.column) == (line, column), str(error)
    assert message in error.message
    assert str(error).startswith(f"{tmp_path / 'growth.yaml'}:{line}:{column}: {path}: ")


def test_bad_yaml_syntax_gives_the_line_and_column(tmp_path):
    text, errors = refused(tmp_path, BASE.replace("name: Growth team", "name: Growth team: oops"))

    line, column = locate(text, ": oops")
    assert [(e.line, e.column, e.path) for e in errors] == [(line, column, "")]
    message = "invalid YAML, mapping values are not allowed in this context"
    assert str(errors[0]) == f"{tmp_path / 'growth.yaml'}:{line}:{column}: {message}"


def test_an_empty_file_says_what_is_expected(tmp_path):
    _, errors = refused(tmp_path, "# nothing yet\n")

    assert [(e.line, e.column, e.path) for e in errors] == [(1, 1, "")]
    assert "expected a Malleable configuration, a mapping with keys such as namespaces" in errors[0].message


def test_a_literal_password_is_refused_and_never_echoed(tmp_path):
    text, errors = refused(tmp_path, BASE.replace("${SHOP_DB_PASSWORD}", "hunter2-literal"))

    assert [(e.path, (e.line, e.column)) for e in errors] == [
        (f"{DATASOURCE}.password", locate(text, "hunter2-literal"))
    ]
    assert (
        "reference an environment variable instead, for example password: ${SHOP_DB_PASSWORD}"
        in errors[0].message
    )
    assert "hunter2" not in str(errors[0])


def test_a_password_of_the_wrong_type_is_not_echoed_either(tmp_path):
    _, errors = refused(tmp_path, BASE.replace("${SHOP_DB_PASSWORD}", "123456789"))

    assert [e.message for e in errors] == ["expected a string, got a number"]


def test_a_password_in_the_url_is_refused_and_never_echoed(tmp_path):
    text = BASE.replace("engine: sqlite", "engine: postgresql").replace(
        "url: sqlite:///{dir}/shop.sqlite3", "url: postgresql://reader:hunter2@127.0.0.1:5432/shop"
    )
    text, errors = refused(tmp_path, text)

    assert [(e.path, (e.line, e.column)) for e in errors] == [
        (f"{DATASOURCE}.url", locate(text, "postgresql://"))
    ]
    assert "the URL carries a password" in errors[0].message
    assert "hunter2" not in str(errors[0])


def test_all_errors_are_reported_at_once_in_file_order(tmp_path):
    text = (
        BASE.replace("row_cap: 5000", "row_cap: many")
        .replace('"*/5 * * * *"', '"61 * * * *"')
        .replace("datasets: [users_with_email_null]", "datasets: [nope]")
        .replace("name: Growth team", "name: Growth team\n    colour: blue")
    )
    _, errors = refused(tmp_path, text)

    assert [e.path for e in errors] == [
        "namespaces[0].colour",
        f"{DATASOURCE}.row_cap",
        f"{RULE_CHECKER}.schedule",
        f"{PYTHON_CHECKER}.datasets[0]",
    ]
    assert errors == sorted(errors)
