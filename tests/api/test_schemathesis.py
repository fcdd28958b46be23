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

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from alarms.models import Channel, MaintenanceWindow
from api.models import ApiToken

EXAMPLES_PER_OPERATION = 6

SCHEMA = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
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
