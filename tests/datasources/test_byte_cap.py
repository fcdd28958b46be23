"""A dataset is capped in bytes as well as rows, counted while it is fetched.

On main the row cap was the only bound: ``SELECT repeat('x', 200000000)`` made a 400 MB
preview and a worker peaked at 1.3 GB. Now PostgreSQL refuses a row over the cap on the
server, before sending it, and every engine stops reading rows once they pass the cap.
The tests assert on the error, not on the worker's memory (a shared machine's RSS says
little), and the error's row count shows how far reading went.
"""

from __future__ import annotations

import pytest

from checkers import runs
from checkers.datasources import DatasetTooLarge, fetch, validate_sql
from checkers.models import Checker, CheckerKind, Dataset, Datasource
from tests.datasources.shops import READER_PASSWORD, Shop

TEN_MB = 10 * 1024 * 1024
ONE_ROW_OF_200_MB = "SELECT repeat('x', 200000000) AS blob"
# 200 rows of 1 MB each, 200 MB in all, in each engine's words.
ROWS_OF_1_MB = {
    "postgresql": "SELECT repeat('x', 1000000) AS blob FROM generate_series(1, 200)",
    "mysql": "SELECT REPEAT('x', 1000000) AS payload FROM seq_1_to_200",
    "sqlite": (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
        "SELECT hex(zeroblob(500000)) AS blob FROM n"
    ),
}
# Ten rows of 1 MB fit under 10 MB; the eleventh, fetched alone to fit what was left, does not.
PAST_TEN_MB = "the rows came to more than the 10,485,760-byte cap of a dataset after 11 rows"
ROW_OVER_64_MB = "one row came to more than the 67,108,864-byte cap of a dataset"


def test_one_row_of_200_mb_is_refused_by_postgresql_before_it_is_sent(pg_shop: Shop):
    with pytest.raises(DatasetTooLarge) as refused:
        fetch(pg_shop.spec("reader", statement_timeout_s=60.0), ONE_ROW_OF_200_MB, policy=pg_shop.policy)

    assert str(refused.value) == ROW_OVER_64_MB
    assert (refused.value.fetched, refused.value.cap, refused.value.permanent) == (0, 64 * 1024 * 1024, True)


@pytest.mark.parametrize("name", ["pg_shop", "mariadb_shop", "sqlite_shop"])
def test_200_rows_of_1_mb_stop_at_the_byte_cap_while_fetching(request, name):
    shop: Shop = request.getfixturevalue(name)
    role = "superuser" if shop.engine == "sqlite" else "reader"
    spec = shop.spec(role, statement_timeout_s=60.0, row_cap=1000, byte_cap=TEN_MB)

    with pytest.raises(DatasetTooLarge) as refused:
        fetch(spec, ROWS_OF_1_MB[shop.engine], policy=shop.policy)

    assert str(refused.value) == PAST_TEN_MB
    assert refused.value.fetched == 11


@pytest.mark.parametrize("name", ["pg_shop", "mariadb_shop", "sqlite_shop"])
def test_rows_under_the_byte_cap_are_fetched_up_to_the_row_cap(request, name):
    shop: Shop = request.getfixturevalue(name)
    role = "superuser" if shop.engine == "sqlite" else "reader"
    spec = shop.spec(role, statement_timeout_s=60.0, row_cap=9, byte_cap=TEN_MB)

    result = fetch(spec, ROWS_OF_1_MB[shop.engine], policy=shop.policy)

    assert (len(result.values), result.truncated) == (9, True)
    assert len(result.values[8][0]) == 1_000_000


def test_a_sessions_pool_survives_a_refused_mariadb_result(mariadb_shop: Shop):
    spec = mariadb_shop.spec("reader", statement_timeout_s=60.0, row_cap=1000, byte_cap=TEN_MB)
    with pytest.raises(DatasetTooLarge):
        fetch(spec, ROWS_OF_1_MB["mysql"], policy=mariadb_shop.policy)

    assert fetch(spec, "SELECT 1 AS one", policy=mariadb_shop.policy).values == [(1,)]


def _code_checker(personas, shop: Shop, sql: str) -> Checker:
    source = Datasource.objects.create(
        namespace=personas.a,
        slug="shop",
        engine=shop.engine,
        url=shop.url("reader"),
        password=READER_PASSWORD,
        statement_timeout=60,
        row_cap=1000,
    )
    dataset = Dataset.objects.create(
        namespace=personas.a, slug="huge", datasource=source, sql=sql, sample=True
    )
    checker = Checker.objects.create(
        namespace=personas.a,
        slug="reads-huge",
        name="Reads huge",
        kind=CheckerKind.PYTHON,
        source="print(len(datasets['huge']))\n",
        schedule_every=300,
    )
    checker.datasets.add(dataset)
    return checker


def test_a_run_reading_one_row_of_200_mb_on_postgresql_is_dataset_truncated(personas, pg_shop):
    run = runs.execute(_code_checker(personas, pg_shop, ONE_ROW_OF_200_MB))

    assert (run.status, run.error_kind) == ("error", "dataset_truncated")
    assert run.error_detail == (
        f"dataset_truncated: dataset huge: {ROW_OVER_64_MB} (MALLEABLE_DATASET_MAX_BYTES); select fewer "
        "or shorter columns, aggregate or filter in the dataset's SQL"
    )


def test_a_run_reading_200_mb_of_rows_on_mariadb_is_dataset_truncated(personas, mariadb_shop, settings):
    settings.DATASET_MAX_BYTES = TEN_MB

    run = runs.execute(_code_checker(personas, mariadb_shop, ROWS_OF_1_MB["mysql"]))

    assert (run.status, run.error_kind) == ("error", "dataset_truncated")
    assert run.error_detail == (
        f"dataset_truncated: dataset huge: {PAST_TEN_MB} (MALLEABLE_DATASET_MAX_BYTES); select fewer "
        "or shorter columns, aggregate or filter in the dataset's SQL"
    )


def test_a_scalar_rule_on_a_200_mb_row_is_dataset_truncated(personas, pg_shop):
    checker = _code_checker(personas, pg_shop, ONE_ROW_OF_200_MB)
    Checker.objects.filter(pk=checker.pk).update(kind=CheckerKind.RULE)
    checker.refresh_from_db()
    checker.rules.create(dataset=Dataset.objects.get(slug="huge"), metric="scalar", op="<", value=1)

    run = runs.execute(checker)

    assert (run.status, run.error_kind) == ("error", "dataset_truncated")
    assert ROW_OVER_64_MB in run.error_detail


def test_the_row_guard_keeps_the_statement_validated_and_the_rows_in_order(pg_shop: Shop):
    statement = validate_sql(
        "SELECT g FROM generate_series(1, 5) g ORDER BY g DESC -- newest first", "postgresql"
    )

    result = fetch(pg_shop.spec("reader"), statement, policy=pg_shop.policy)

    assert (result.columns, result.values) == (["g"], [(5,), (4,), (3,), (2,), (1,)])


def test_the_preview_of_a_200_mb_row_is_a_short_error_page(personas, login, pg_shop):
    checker = _code_checker(personas, pg_shop, "SELECT 1")
    source = checker.datasets.get().datasource
    form = {"slug": "huge2", "datasource": source.pk, "sql": ONE_ROW_OF_200_MB, "action": "preview"}

    response = login(personas.editor).post("/n/alpha/datasets/new/", form, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response.context["preview"] == {
        "error": f"dataset huge2: {ROW_OVER_64_MB} (MALLEABLE_DATASET_MAX_BYTES); select fewer or shorter "
        "columns, aggregate or filter in the dataset's SQL"
    }
    assert len(response.content) < 10_000


@pytest.fixture(autouse=True)
def _shops_on_this_machine(settings):
    """The shops run on this machine, which the outbound policy refuses unless listed."""
    settings.DATASOURCE_ALLOWED_HOSTS = ["127.0.0.1"]
