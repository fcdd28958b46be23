"""The ``datasources`` and ``datasets`` sections."""

from __future__ import annotations

from typing import Any

from checkers.models import Dataset, Datasource, Engine
from checks_as_code.config import credentials
from checks_as_code.config.context import Context, Scope
from checks_as_code.config.document import Path
from checks_as_code.config.schema import BOOLEAN, INTEGER, NUMBER, TEXT, Schema, choice
from checks_as_code.config.section import Section

# Model field → the file's key, for the fields that are plainly one key.
DATASOURCE_KEYS = {
    "name": "name",
    "engine": "engine",
    "url": "url",
    "statement_timeout": "statement_timeout",
    "row_cap": "row_cap",
    "max_concurrency": "max_concurrency",
}
DATASET_KEYS = {"sql": "sql", "description": "description", "sample": "sample"}


class Datasources(Section):
    key = "datasources"
    kind = "datasource"
    model = Datasource
    keys = DATASOURCE_KEYS
    schema = Schema(
        "a datasource",
        {
            "slug": TEXT,
            "name": TEXT,
            "engine": choice(Engine.values),
            "url": TEXT,
            "password": TEXT,
            "statement_timeout": NUMBER,
            "row_cap": INTEGER,
            "max_concurrency": INTEGER,
        },
        required=("slug", "engine", "url"),
        secret=("password",),
    )

    def values(self, ctx: Context, path: Path, fields: dict[str, Any]) -> dict[str, Any]:
        owner = f"datasource `{fields.get('slug', '?')}`"
        values = super().values(ctx, path, fields)
        values["url"] = credentials.expand(ctx, (*path, "url"), fields.get("url", ""), owner)
        if credentials.has_password(values["url"]):
            ctx.error(
                (*path, "url"),
                "the URL carries a password: take it out and write password: ${ENV_VAR} instead",
            )
        secret = credentials.password(ctx, (*path, "password"), fields.get("password"), owner)
        # The file gives the password with its URL: it is entered for that target.
        target = Datasource.target_of(values["engine"], values["url"]) if secret["password"] else ""
        return values | secret | {"password_target": target}

    def apply(
        self, ctx: Context, scope: Scope, path: Path, fields: dict[str, Any], values: dict[str, Any]
    ) -> None:
        secrets = {"password": "password", "password_env": "password", "password_target": "password"}
        keys = DATASOURCE_KEYS | secrets
        result = self.write(ctx, scope, path, Datasource, fields["slug"], values, keys)
        if result:
            self.record(ctx, scope, fields["slug"], result[1], result[2])


class Datasets(Section):
    key = "datasets"
    kind = "dataset"
    model = Dataset
    keys = DATASET_KEYS
    schema = Schema(
        "a dataset",
        {"slug": TEXT, "datasource": TEXT, "sql": TEXT, "description": TEXT, "sample": BOOLEAN},
        required=("slug", "datasource", "sql"),
    )

    def apply(
        self, ctx: Context, scope: Scope, path: Path, fields: dict[str, Any], values: dict[str, Any]
    ) -> None:
        datasource = scope.resolve(
            ctx, "datasources", Datasource, fields["datasource"], (*path, "datasource")
        )
        if datasource is None:
            return
        keys = DATASET_KEYS | {"datasource": "datasource"}
        result = self.write(
            ctx, scope, path, Dataset, fields["slug"], values | {"datasource": datasource}, keys
        )
        if result:
            self.record(ctx, scope, fields["slug"], result[1], result[2])
