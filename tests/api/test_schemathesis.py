"""Schemathesis against the live schema: every operation, no 5xx, no response outside the schema.

Every check runs but "a schema-valid request is accepted": the schema gives shapes, and
meaning (a Python syntax error, a mute without an end, a file that is not a configuration)
is rightly a 400 for many requests that fit them.

Bounded (a few examples per operation) so it finishes in under two minutes; each operation
runs as the owner of namespace ``alpha``, which holds the seed's checkers, and a path naming
an object names one that exists (a checker, dataset, datasource, member, channel, window), so
the writes reach the pages' forms instead of stopping at a 404.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from alarms.models import Channel, MaintenanceWindow
from api.models import ApiToken
from checkers.models import Datasource

EXAMPLES_PER_OPERATION = 4
STATEFUL_WALKS = 20
NS = "/api/v1/namespaces/{namespace}/"
# What a create answers leads to its object: (the object's path, its path parameter, the answer's key).
CREATED = {
    f"{NS}checkers/": (f"{NS}checkers/{{checker}}/", "checker", "slug"),
    f"{NS}datasources/": (f"{NS}datasources/{{datasource}}/", "datasource", "slug"),
    f"{NS}datasets/": (f"{NS}datasets/{{dataset}}/", "dataset", "slug"),
    f"{NS}runbooks/": (f"{NS}runbooks/{{runbook}}/", "runbook", "slug"),
    f"{NS}channels/": (f"{NS}channels/{{channel}}/", "channel", "slug"),
    f"{NS}maintenance/": (f"{NS}maintenance/{{window}}/", "window", "id"),
    f"{NS}members/": (f"{NS}members/{{member}}/", "member", "user"),
}


def with_links(schema: dict) -> dict:
    """OpenAPI links from each create (201) to reading, changing and deleting what it made, and
    from a run now to reading the run, for schemathesis's stateful phase."""
    paths = schema["paths"]
    for create, (detail, parameter, key) in CREATED.items():
        links = paths[create]["post"]["responses"]["201"].setdefault("links", {})
        for method in ("get", "patch", "delete"):
            if method in paths[detail]:
                links[f"{method}-{parameter}"] = {
                    "operationId": paths[detail][method]["operationId"],
                    "parameters": {
                        "namespace": "$request.path.namespace",
                        parameter: f"$response.body#/{key}",
                    },
                }
    run_detail = paths[f"{NS}runs/{{run}}"]["get"]["operationId"]
    for code in ("200", "202"):
        paths[f"{NS}checkers/{{checker}}/run"]["post"]["responses"][code]["links"] = {
            "get-run": {
                "operationId": run_detail,
                "parameters": {"namespace": "$request.path.namespace", "run": "$response.body#/id"},
            }
        }
    return schema


SCHEMA = schemathesis.openapi.from_dict(with_links(SchemaGenerator().get_schema(request=None, public=True)))
SCHEMA.app = get_wsgi_application()


@pytest.fixture
def objects(seed, personas) -> dict[str, str]:
    """An existing object for every kind of path parameter."""
    channel = Channel.objects.create(
        namespace=personas.a, slug="ops-mail", kind="email", url="ops@example.com"
    )
    window = MaintenanceWindow.objects.create(
        namespace=personas.a, name="nightly", cron="0 1 * * *", duration_minutes=10
    )
    return {
        "namespace": "alpha",
        "checker": seed[0].slug,
        "dataset": "users_with_email_null",
        "datasource": "shop",
        "member": personas.viewer.username,
        "channel": channel.slug,
        "window": str(window.uuid),
    }


@pytest.fixture
def owner_token(objects, personas):
    """As Django's test client does: requests through the WSGI app keep the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield ApiToken.issue(personas.owner, "schemathesis")[1]
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_schema(case, objects, owner_token):
    # A case whose invalid part is the path keeps it; every other names existing objects.
    if not (case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)):
        for name in case.path_parameters or {}:
            case.path_parameters[name] = objects.get(name, case.path_parameters[name])
    case.call_and_validate(
        headers={"Authorization": f"Bearer {owner_token}"}, excluded_checks=[positive_data_acceptance]
    )


def test_stateful_links_keep_to_the_schema(objects, owner_token):
    """Create, then read, change or delete what was created (and run now, then read the run),
    following the links above: a short bounded walk."""

    answers: Counter = Counter()
    shop_url = Datasource.objects.get(slug="shop").url
    # Every other create is a valid one, so the walk goes on to what it made.
    valid = {
        f"{NS}checkers/": lambda n: {
            "slug": f"walk-{n}",
            "name": f"Walk {n}",
            "kind": "rule",
            "schedule_every": 300,
            "rules": [{"dataset": "users_with_email_null", "value": 1}],
        },
        f"{NS}datasources/": lambda n: {
            "slug": f"walk-{n}",
            "name": "Walk",
            "engine": "sqlite",
            "url": shop_url,
        },
        f"{NS}datasets/": lambda n: {"slug": f"walk_{n}", "datasource": "shop", "sql": "SELECT 1"},
        f"{NS}runbooks/": lambda n: {"slug": f"walk-{n}", "title": f"Walk {n}", "body": "1. Look."},
        f"{NS}channels/": lambda n: {"slug": f"walk-{n}", "kind": "email", "url": "ops@example.com"},
        f"{NS}maintenance/": lambda n: {"name": f"walk {n}", "cron": "0 3 * * *", "duration_minutes": 15},
    }

    class Walk(SCHEMA.as_state_machine()):
        """Each walk starts from the same data (a savepoint rolled back at its end), as
        hypothesis needs to replay a walk."""

        def setup(self) -> None:
            self.creates: Counter = Counter()
            self.savepoint = transaction.atomic()
            self.savepoint.__enter__()

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self.savepoint.__exit__(None, None, None)

        def after_call(self, response, case) -> None:
            answers[
                (case.method, case.path.removeprefix("/api/v1/namespaces/{namespace}/"), response.status_code)
            ] += 1

        def before_call(self, case) -> None:
            if "namespace" in (case.path_parameters or {}):
                case.path_parameters["namespace"] = "alpha"
            self.creates[case.path] += case.method == "POST"
            if case.method == "POST" and case.path in valid and self.creates[case.path] % 2:
                case.body, case.media_type = valid[case.path](self.creates[case.path]), "application/json"
            # The token goes with the call, as the examples above send it: a generated one is no token.
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}

        def get_call_kwargs(self, case) -> dict:
            return {"headers": {"Authorization": f"Bearer {owner_token}"}}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            case.validate_response(
                response,
                excluded_checks=[positive_data_acceptance],
                headers=kwargs["headers"],
                transport_kwargs=kwargs,
            )

    run_state_machine_as_test(
        Walk,
        settings=settings(
            max_examples=STATEFUL_WALKS,
            stateful_step_count=4,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(
        f"stateful: {sum(answers.values())} calls;",
        ", ".join(f"{m} {p} {c}: {n}" for (m, p, c), n in sorted(answers.items())),
    )
