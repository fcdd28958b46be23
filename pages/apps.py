from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The top layer: every page, its forms and helpers, the dashboard and the demo."""

    name = "pages"
