"""Secrets at rest: Fernet tokens in the database, plaintext only in memory, never rendered.

Keys come from ``settings.ENCRYPTION_KEYS`` (``MALLEABLE_ENCRYPTION_KEYS``, comma-separated,
or ``var/encryption_key`` made once per checkout). The first key encrypts; every key
decrypts. To rotate: put a new key first, keep the old ones after it, run
``manage.py rotate_encryption_keys``, then drop the old keys.

``EncryptedTextField`` stores ``""`` as ``""`` (so "no password" stays visible to queries),
anything else as a token. Forms get ``SecretField`` with a ``SecretInput``: it renders empty
whatever the value, says when a secret is set, and leaves the stored one alone when the
input is left blank (tick "remove" to clear it).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldError
from django.db import models, transaction
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, IsNull
from django.utils.html import format_html
from django.utils.safestring import SafeString

KEYS_SOURCE = "MALLEABLE_ENCRYPTION_KEYS (or var/encryption_key when it is unset)"


class UndecryptableSecret(Exception):
    """A stored token that none of the configured keys opens: the key that made it is gone."""


@functools.cache
def _fernets(keys: tuple[str, ...]) -> tuple[Fernet, MultiFernet]:
    if not keys:
        raise UndecryptableSecret(f"no encryption keys are configured: set {KEYS_SOURCE}")
    fernets = [Fernet(key) for key in keys]
    return fernets[0], MultiFernet(fernets)


def _keys() -> tuple[Fernet, MultiFernet]:
    """The current key and all keys, rebuilt when the settings change (tests override them)."""
    return _fernets(tuple(settings.ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _keys()[1].encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str, where: str) -> str:
    """The plaintext of ``token``; ``where`` names the model and field in the error."""
    try:
        return _keys()[1].decrypt(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableSecret(
            f"{where}: the stored secret cannot be decrypted with any key in {KEYS_SOURCE}. "
            "Was the key that encrypted it removed? Put it back (after the current key), "
            "or set the secret again."
        ) from None


class _EmptyOnlyExact(Exact):
    """``field=""`` works (is a secret set?); any other value could never match a token."""

    def get_prep_lookup(self) -> Any:
        if self.rhs not in ("", None):
            raise FieldError(f"{self.lhs.target} is encrypted: it can only be compared with '' or isnull")
        return super().get_prep_lookup()


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token and decrypted on read. Defaults to ``""``."""

    description = "Text encrypted at rest (Fernet)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("default") == "":
            del kwargs["default"]
        return name, path, args, kwargs

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.name}"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return decrypt(value, self.label) if value else value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return encrypt(value) if value else value

    def value_to_string(self, obj: models.Model) -> str:
        """Serializers (``dumpdata``) get a token, never the plaintext."""
        value = self.value_from_object(obj)
        return encrypt(value) if value else ""

    def get_lookup(self, lookup_name: str) -> type | None:
        return {"exact": _EmptyOnlyExact, "isnull": IsNull}.get(lookup_name)

    def formfield(
        self,
        form_class: type[forms.Field] | None = None,
        choices_form_class: type[forms.ChoiceField] | None = None,
        **kwargs: Any,
    ) -> forms.Field | None:
        """Always a ``SecretField``, whatever ``form_class`` asks: the admin's textarea override
        would render the plaintext."""
        widget = kwargs.get("widget")
        widget_class = widget if isinstance(widget, type) else type(widget)
        if not issubclass(widget_class, SecretInput):
            kwargs["widget"] = SecretInput
        return super().formfield(form_class=SecretField, choices_form_class=choices_form_class, **kwargs)


class _Cleared(str):
    """The empty value a ticked "remove it" box submits, told apart from a blank input."""


CLEARED = _Cleared("")


class SecretInput(forms.PasswordInput):
    """A password box that never holds the value; blank keeps the stored secret."""

    def __init__(self, attrs: dict[str, Any] | None = None, *, clearable: bool = True) -> None:
        super().__init__({"autocomplete": "new-password", **(attrs or {})}, render_value=False)
        self.clearable = clearable

    @staticmethod
    def clear_name(name: str) -> str:
        return f"{name}-clear"

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        html = super().render(name, None, attrs, renderer)
        if not value:
            return html
        remove = (
            format_html(
                ' <label><input type="checkbox" name="{}"> remove it</label>',
                self.clear_name(name),
            )
            if self.clearable
            else ""
        )
        return html + format_html(
            '<div class="form-text secret-note">A secret is set; leave blank to keep it.{}</div>', remove
        )

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if self.clearable and data.get(self.clear_name(name)):
            return CLEARED
        return super().value_from_datadict(data, files, name)

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        """Blank counts as omitted, so a ModelForm keeps the stored value (it has a default)."""
        if self.clearable and data.get(self.clear_name(name)):
            return False
        return not data.get(name)


class SecretField(forms.CharField):
    """A form field for secrets: changed only when something was typed (or removed)."""

    widget = SecretInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def bound_data(self, data: Any, initial: Any) -> Any:
        """On a redisplayed form, the widget still learns that a secret is set."""
        return data or initial

    def has_changed(self, initial: Any, data: Any) -> bool:
        return bool(data) or (data is CLEARED and bool(initial))


@dataclass(frozen=True)
class Rotation:
    """What ``rotate_all`` did to one field."""

    field: str
    values: int
    from_older_keys: int


def encrypted_fields() -> list[EncryptedTextField]:
    """Every EncryptedTextField of every installed concrete model, each once."""
    return [
        field
        for model in apps.get_models()
        if not model._meta.proxy
        for field in model._meta.local_concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def rotate_all(fields: Sequence[EncryptedTextField] | None = None, using: str = "default") -> list[Rotation]:
    """Re-encrypt every stored secret with the current key, all or nothing."""
    with transaction.atomic(using=using):
        return [_rotate(field, using) for field in (encrypted_fields() if fields is None else fields)]


def _rotate(field: EncryptedTextField, using: str) -> Rotation:
    """Works on the raw tokens (read through a text cast, written as plain text values)."""
    current, every_key = _keys()
    manager = field.model._base_manager.using(using)
    rows = (
        manager.exclude(**{field.attname: ""})
        .exclude(**{f"{field.attname}__isnull": True})
        .select_for_update()
        .values_list("pk", Cast(field.attname, models.TextField()))
    )
    older = 0
    count = 0
    for pk, token in rows:
        try:
            current.decrypt(token.encode())
        except InvalidToken:
            older += 1
        try:
            rotated = every_key.rotate(token.encode()).decode("ascii")
        except InvalidToken:
            raise UndecryptableSecret(
                f"{field.label} (pk={pk}): no key in {KEYS_SOURCE} decrypts it; nothing was re-encrypted"
            ) from None
        raw = models.Value(rotated, output_field=models.TextField())
        manager.filter(pk=pk).update(**{field.attname: raw})
        count += 1
    return Rotation(field=field.label, values=count, from_older_keys=older)
