"""Settings read the environment and fail loudly, naming the variable, on values that do not parse."""

import os
import subprocess
import sys

import pytest

from malleable.settings import BASE_DIR


def load_settings(**env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL"}} | env
    code = "import malleable.settings as s; print(s.DATABASES['default']['ENGINE'], s.SITE_URL)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=60
    )


def test_defaults_are_embedded():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "http://127.0.0.1:8000"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("CELERY_WORKER_CONCURRENCY", "two"),
        ("MALLEABLE_SANDBOX_TIMEOUT", "soon"),
        ("DATABASE_URL", "nosuchdb://x"),
        ("SITE_URL", "malleable.example.com"),
    ],
)
def test_a_bad_value_names_its_variable(name, value):
    result = load_settings(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.splitlines()[-1]


def test_production_database_url_is_used():
    result = load_settings(DATABASE_URL="postgresql://reader@127.0.0.1:5432/test")
    assert result.stdout.split()[0] == "django.db.backends.postgresql"
