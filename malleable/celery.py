"""The Celery app. Tasks take ids, queue on commit and acknowledge late (settings.CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "malleable.settings")

app = Celery("malleable")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
