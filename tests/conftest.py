import pytest

from checkers import quotas
from checkers.models import Checker, CheckerKind, Dataset, Datasource
from tests.personas import Personas, make_personas
from tests.shop import SEED_MESSAGE, SEED_PYTHON, Shop

pytest_plugins = ["tests.services"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _forget_quota_sums():
    """The quota's sums are per process (checkers/quotas.py): a rolled-back namespace's id comes back."""
    quotas.forget()


@pytest.fixture
def personas(db) -> Personas:
    return make_personas()


@pytest.fixture
def login(client):
    """Sign the test client in as a user and hand it back."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def shop(tmp_path, settings) -> Shop:
    """The shop in namespace A's (``alpha``) own SQLite directory."""
    settings.DATASOURCE_SQLITE_DIR = tmp_path
    return Shop(tmp_path / "alpha" / "shop.sqlite3")


@pytest.fixture
def seed(personas, shop):
    """The seed's example in namespace A: a dataset, a rule checker and a Python checker."""
    source = Datasource.objects.create(namespace=personas.a, slug="shop", engine="sqlite", url=shop.url)
    dataset = Dataset.objects.create(
        namespace=personas.a,
        slug="users_with_email_null",
        datasource=source,
        sql="SELECT username FROM users WHERE email IS NULL",
    )
    rule = Checker.objects.create(
        namespace=personas.a,
        slug="few-null-emails",
        name="Few null e-mails",
        kind=CheckerKind.RULE,
        schedule_cron="*/5 * * * *",
    )
    rule.rules.create(dataset=dataset, metric="row_count", op="<", value=42, message=SEED_MESSAGE)
    python = Checker.objects.create(
        namespace=personas.a,
        slug="few-null-emails-py",
        name="Few null e-mails (Python)",
        kind=CheckerKind.PYTHON,
        source=SEED_PYTHON,
        schedule_every=300,
    )
    python.datasets.add(dataset)
    return rule, python


@pytest.fixture
def eager_tasks(settings):
    """Celery runs a task in the caller, as an installation with CELERY_TASK_ALWAYS_EAGER does: a
    test run then finishes within the request that starts it."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
