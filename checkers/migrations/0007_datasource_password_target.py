"""Bind each stored password to the target it was entered for (the URL it is stored with)."""

import json

from django.db import migrations

import malleable.encryption
from checkers.datasources import credential_target


def bind_passwords(apps, schema_editor):
    Datasource = apps.get_model("checkers", "Datasource")
    for source in Datasource.objects.exclude(password=""):
        target = credential_target(source.engine, source.url)
        source.password_target = json.dumps(target, sort_keys=True)
        source.save(update_fields=["password_target"])


class Migration(migrations.Migration):
    dependencies = [
        ("checkers", "0006_run_figures"),
    ]

    operations = [
        migrations.AddField(
            model_name="datasource",
            name="password_target",
            field=malleable.encryption.EncryptedTextField(
                blank=True,
                editable=False,
                help_text="The engine, host, port, database and user the password was entered for (JSON).",
            ),
        ),
        migrations.AlterField(
            model_name="datasource",
            name="url",
            field=malleable.encryption.EncryptedTextField(
                help_text="For example postgresql://reader@db.internal:5432/shop, or sqlite:shop.sqlite3 "
                "for a file in this namespace's SQLite directory"
            ),
        ),
        migrations.RunPython(bind_passwords, migrations.RunPython.noop),
    ]
