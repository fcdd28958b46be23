"""What the benchmarks share: the machine's PostgreSQL and RabbitMQ, throwaway databases,
Django set up on a fresh one, and stopping the process groups they start.

A benchmark runs as ``.venv/bin/python bench/NAME.py``, so this module is imported as
``support``; importing it puts the repository on the path for Malleable's own packages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = "postgresql://postgres@127.0.0.1:5432"
BROKER = "amqp://guest:guest@127.0.0.1:5672//"
# A benchmark reads its shop as the server's superuser, on this machine: both are refused
# unless allowed.
DATASOURCES_ON_THIS_MACHINE = {
    "MALLEABLE_DATASOURCE_ALLOW_PRIVILEGED_ROLES": "true",
    "MALLEABLE_DATASOURCE_ALLOWED_HOSTS": "127.0.0.1",
}


def recreate(name: str) -> None:
    """Drop the database ``name`` (whoever is connected to it) and make it again, empty."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def setup_django(own_db: str, **env: str) -> None:
    """Django in this process on a fresh, migrated ``own_db``; ``env`` goes into the environment
    first (and so to the processes the benchmark starts from it)."""
    os.environ.update({"DATABASE_URL": f"{SERVER}/{own_db}", "LOG_LEVEL": "WARNING", **env})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "malleable.settings")
    import django
    from django.core.management import call_command

    django.setup()
    recreate(own_db)
    call_command("migrate", verbosity=0)


def stop(process: subprocess.Popen) -> None:
    """Stop a process started in a session of its own, with its children: politely, then not."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
