"""Model fields that several apps declare alike."""

from __future__ import annotations

from typing import Any

from django.db import models


def optional_link(to: type[models.Model] | str, **options: Any) -> models.ForeignKey[Any, Any]:
    """A foreign key for a record that must outlive what it names (who did it, which run caused
    it): empty when unknown, emptied when the target is deleted, and no reverse accessor, since
    nothing asks the target for its mentions."""
    return models.ForeignKey(
        to, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", **options
    )
