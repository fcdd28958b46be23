"""The Celery app. Tasks take ids, queue on commit and acknowledge late (settings.CELERY_*)."""

import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "malleable.settings")

app = Celery("malleable")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def connections_between_tasks(sender: Task, **kwargs: Any) -> None:
    """Around each task, what Django does around each request: close a connection to Malleable's
    database that errored or passed ``CONN_MAX_AGE``, keep the others (``CELERY_DB_REUSE_MAX``).
    Not for a task run eagerly, inside its caller's request and maybe its transaction."""
    if not sender.request.is_eager:
        close_old_connections()
