"""``manage.py check`` (run at deploy) refuses operator channels that could never deliver."""

from __future__ import annotations

from typing import Any

from django.core import checks


@checks.register(checks.Tags.compatibility)
def operator_channels(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from health.operator import problems_with_channels

    return [
        checks.Error(f"MALLEABLE_OPERATOR_CHANNELS: {problem}", id="health.E001")
        for problem in problems_with_channels()
    ]
