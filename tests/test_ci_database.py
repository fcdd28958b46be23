from django.conf import settings
from django.db import connection


def test_ci_proves_the_suite_on_postgresql(db):
    """CI sets MALLEABLE_REQUIRE_SERVICES and DATABASE_URL; a silent fall-back to SQLite must fail."""
    if settings.REQUIRE_SERVICES:
        assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
