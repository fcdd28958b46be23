from django.apps import AppConfig


class ChecksAsCodeConfig(AppConfig):
    """Namespaces, datasources, datasets, runbooks, checkers and alarms as YAML, above the domain."""

    name = "checks_as_code"
