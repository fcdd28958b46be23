from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"

    def ready(self) -> None:
        from health import checks  # noqa: F401  (system checks; Celery signals: health/tasks.py)
