from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "alarms"

    def ready(self) -> None:
        from alarms import receivers  # noqa: F401  (connects the run signals)
