"""A checker's ``params``: a small JSON object, bounded in depth and size before it is parsed.

``json.loads`` and every value walk recurse, so 50,000 nested brackets raised
``RecursionError`` (a 500) before any validator ran; the text is measured first, without
recursion, and the value is walked with a stack. PostgreSQL refuses a NUL (``\\u0000``) in
JSON and no driver sends a lone surrogate, so both are refused here with a message rather
than by the database with a 500.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.fields import InvalidJSONInput

from malleable.texts import clean

MAX_DEPTH = 32
MAX_BYTES = 64 * 1024


def validate_params(value: Any) -> None:
    """Refuse params deeper than ``MAX_DEPTH``, larger than ``MAX_BYTES`` or holding NUL."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise ValidationError(f"params nest more than {MAX_DEPTH} levels deep: flatten them.")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str) and clean(item) != item:
            raise ValidationError(
                "params hold a character that cannot be stored (NUL, \\u0000, or a lone surrogate)."
            )
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "replace"))
    if size > MAX_BYTES:
        raise ValidationError(too_large(size))


def too_large(size: int) -> str:
    return f"params take {size:,} bytes as JSON, more than {MAX_BYTES:,}: keep them small."


def text_depth(text: str) -> int:
    """How deep the brackets of JSON ``text`` nest, outside strings, without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class ParamsFormField(forms.JSONField):
    """The JSON text measured before ``json.loads`` sees it, when validated and when shown again."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            size = len(value.encode("utf-8", "replace"))
            if size > MAX_BYTES:
                raise ValidationError(too_large(size))
            if text_depth(value) > MAX_DEPTH:
                raise ValidationError(f"params nest more than {MAX_DEPTH} levels deep: flatten them.")
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        """The refused text is shown back as typed, never parsed (``has_changed`` reads this too)."""
        if isinstance(data, str) and not self.disabled:
            try:
                self.to_python(data)
            except ValidationError:
                return InvalidJSONInput(data)
        return super().bound_data(data, initial)


class ParamsField(models.JSONField):
    """``JSONField`` with the bounds above, in every form and in ``full_clean``."""

    default_validators = [validate_params]

    def formfield(
        self,
        form_class: type[forms.Field] | None = None,
        choices_form_class: type[forms.ChoiceField] | None = None,
        **kwargs: Any,
    ) -> forms.Field | None:
        return super().formfield(
            form_class=form_class or ParamsFormField, choices_form_class=choices_form_class, **kwargs
        )
