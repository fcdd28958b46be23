"""Secrets at rest: tokens in the column, rotation, clear errors, and forms that never show them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.contrib import admin
from django.core import serializers
from django.core.exceptions import FieldError
from django.core.management import CommandError, call_command
from django.db import connection, models
from django.forms import modelform_factory
from django.test import RequestFactory

from malleable.encryption import EncryptedTextField, SecretInput, UndecryptableSecret, encrypted_fields
from malleable.settings import BASE_DIR, VAR_DIR

PLAINTEXT = "s3cret-Pa55word"
K1, K2, K3 = (Fernet.generate_key().decode() for _ in range(3))
FIELD = "checkers.SecretNote.secret"


@pytest.fixture(scope="module")
def note_model(django_db_setup, django_db_blocker):
    """A model with an encrypted field, registered with an installed app for this module only,
    so apps.get_models() (what the rotate command uses) finds it."""
    model = type(
        "SecretNote",
        (models.Model,),
        {
            "__module__": __name__,
            "label": models.CharField(max_length=50, default=""),
            "secret": EncryptedTextField(blank=True),
            "Meta": type("Meta", (), {"app_label": "checkers"}),
        },
    )
    with django_db_blocker.unblock(), connection.schema_editor() as editor:
        editor.create_model(model)
    yield model
    with django_db_blocker.unblock(), connection.schema_editor() as editor:
        editor.delete_model(model)
    del apps.all_models["checkers"]["secretnote"]
    apps.clear_cache()


@pytest.fixture
def keys(settings):
    """Set the configured keys, as MALLEABLE_ENCRYPTION_KEYS would."""

    def use(*new_keys: str) -> None:
        settings.ENCRYPTION_KEYS = list(new_keys)

    use(K1)
    return use


@pytest.fixture
def Note(note_model, db, keys):
    return note_model


def raw_secret(model, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret FROM {model._meta.db_table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_the_column_holds_a_token_not_the_plaintext(Note):
    note = Note.objects.create(secret=PLAINTEXT)
    token = raw_secret(Note, note.pk)
    assert PLAINTEXT not in token
    assert token.startswith("gAAAAA")
    assert Fernet(K1).decrypt(token.encode()).decode() == PLAINTEXT
    assert Note.objects.get(pk=note.pk).secret == PLAINTEXT


def test_no_secret_is_stored_as_empty(Note):
    note = Note.objects.create()
    assert raw_secret(Note, note.pk) == ""
    assert Note.objects.filter(secret="").count() == 1


def test_rotation_moves_every_value_to_the_first_key(Note, keys):
    notes = [Note.objects.create(secret=f"{PLAINTEXT}-{n}") for n in range(2)]
    Note.objects.create(secret="")
    keys(K2, K1)
    out = StringIO()
    call_command("rotate_encryption_keys", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert {"field": FIELD, "values": 2, "from_older_keys": 2} in report["fields"]
    for n, note in enumerate(notes):
        assert Fernet(K2).decrypt(raw_secret(Note, note.pk).encode()).decode() == f"{PLAINTEXT}-{n}"
    keys(K2)
    assert sorted(Note.objects.exclude(secret="").values_list("secret", flat=True)) == [
        f"{PLAINTEXT}-0",
        f"{PLAINTEXT}-1",
    ]
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert f"{FIELD}: 2 re-encrypted, 0 of them from an older key" in out.getvalue()


def test_a_removed_key_is_a_clear_error_never_the_token(Note, keys):
    note = Note.objects.create(secret=PLAINTEXT)
    token = raw_secret(Note, note.pk)
    keys(K2)
    with pytest.raises(
        UndecryptableSecret, match=f"{FIELD}: the stored secret cannot be decrypted"
    ) as caught:
        Note.objects.get(pk=note.pk)
    assert token not in str(caught.value)
    assert "MALLEABLE_ENCRYPTION_KEYS" in str(caught.value)


def test_rotation_is_all_or_nothing(Note, keys):
    good = Note.objects.create(secret="good")
    keys(K3)
    lost = Note.objects.create(secret="lost")
    keys(K2, K1)
    before = raw_secret(Note, good.pk)
    with pytest.raises(CommandError, match=rf"{FIELD} \(pk={lost.pk}\): no key .* decrypts it"):
        call_command("rotate_encryption_keys")
    assert raw_secret(Note, good.pk) == before


def test_the_rotate_command_finds_fields_through_the_app_registry(Note):
    assert Note._meta.get_field("secret") in encrypted_fields()


def test_lookups_that_could_never_match_are_refused(Note):
    with pytest.raises(FieldError, match="encrypted"):
        list(Note.objects.filter(secret=PLAINTEXT))
    with pytest.raises(FieldError):
        list(Note.objects.filter(secret__icontains="s3"))


def test_serializers_write_tokens(Note):
    note = Note.objects.create(secret=PLAINTEXT)
    dumped = serializers.serialize("json", [note])
    assert PLAINTEXT not in dumped
    assert json.loads(dumped)[0]["fields"]["secret"].startswith("gAAAAA")


def test_the_migration_form_stays_plain():
    _, path, _, kwargs = EncryptedTextField(blank=True).deconstruct()
    assert path == "malleable.encryption.EncryptedTextField"
    assert kwargs == {"blank": True}


def _form(model, **kwargs):
    return modelform_factory(model, fields=["label", "secret"])(**kwargs)


def test_the_widget_never_renders_the_secret(Note):
    note = Note.objects.create(secret=PLAINTEXT)
    html = str(_form(Note, instance=note))
    assert PLAINTEXT not in html
    assert "A secret is set; leave blank to keep it." in html
    assert 'type="password"' in html
    assert "A secret is set" not in str(_form(Note))


def test_a_redisplayed_form_still_hides_it(Note):
    note = Note.objects.create(secret=PLAINTEXT)
    form = _form(Note, instance=note, data={"label": "x" * 60, "secret": ""})
    assert not form.is_valid()
    html = str(form)
    assert PLAINTEXT not in html
    assert "A secret is set" in html


@pytest.mark.parametrize(
    ("data", "stored", "changed"),
    [
        ({"secret": ""}, PLAINTEXT, False),
        ({}, PLAINTEXT, False),
        ({"secret": "new-one"}, "new-one", True),
        ({"secret": "", "secret-clear": "on"}, "", True),
    ],
)
def test_blank_keeps_typed_replaces_ticked_removes(Note, data, stored, changed):
    note = Note.objects.create(label="a", secret=PLAINTEXT)
    form = _form(Note, instance=note, data={"label": "a", **data})
    assert form.is_valid(), form.errors
    assert ("secret" in form.changed_data) is changed
    form.save()
    assert Note.objects.get(pk=note.pk).secret == stored


def test_the_admin_uses_the_secret_widget_not_its_textarea(Note):
    note = Note.objects.create(secret=PLAINTEXT)
    form_class = admin.ModelAdmin(Note, admin.AdminSite()).get_form(RequestFactory().get("/"), note)
    form = form_class(instance=note)
    assert isinstance(form.fields["secret"].widget, SecretInput)
    assert PLAINTEXT not in str(form)


def _load_settings(**env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "MALLEABLE_ENCRYPTION_KEYS"} | env
    code = "import malleable.settings as s; print(','.join(s.ENCRYPTION_KEYS))"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(("value", "where"), [("not-a-key", "key 1 of 1"), (f"{K1},also-bad", "key 2 of 2")])
def test_a_malformed_key_stops_start_up_naming_the_variable_not_the_key(value, where):
    result = _load_settings(MALLEABLE_ENCRYPTION_KEYS=value)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last
    assert f"MALLEABLE_ENCRYPTION_KEYS: {where} is not a Fernet key" in last
    assert value.split(",")[-1] not in result.stderr


def test_keys_from_the_environment_in_order():
    result = _load_settings(MALLEABLE_ENCRYPTION_KEYS=f" {K2} , {K1} ")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{K2},{K1}"


def test_without_the_variable_a_private_key_file_per_checkout():
    result = _load_settings()
    assert result.returncode == 0, result.stderr
    key_file = VAR_DIR / "encryption_key"
    assert result.stdout.strip() == key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_text().strip())
