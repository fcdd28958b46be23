"""The banner on every namespace page when the installation itself is unwell: computed only
when a page shows it (the template calls it), never on the others."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def installation_problems() -> list[str]:
    from django.utils import timezone

    from health import status

    now = timezone.now()
    checks = (status.dispatcher(now), status.workers(now), status.outbox(now))
    return [check.detail for check in checks if not check.ok]


def health(request: HttpRequest) -> dict[str, Any]:
    return {"installation_problems": installation_problems}
