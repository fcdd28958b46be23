import pytest

from tests.checkers.history_support import counted  # noqa: F401
from tests.checkers.orders import pg_orders  # noqa: F401
from tests.personas import make_user


@pytest.fixture(autouse=True)
def _services_on_this_machine(settings):
    """The test databases and RabbitMQ run on this machine, which the outbound policy refuses
    unless listed: the tests list it, as an operator running them there would."""
    settings.DATASOURCE_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.ALARM_BROKERS = ["amqp://127.0.0.1:5672"]


@pytest.fixture
def sqlite_dir(settings, tmp_path):
    """For checks as code: SQLite datasources live here, and the checks refuse SQLite files
    anywhere else."""
    folder = tmp_path / "datasources"
    folder.mkdir()
    settings.DATASOURCE_SQLITE_DIR = folder
    return folder


@pytest.fixture
def people(db):
    return make_user("alice"), make_user("bob")
