"""Re-encrypt every stored secret with the current (first) key, so older keys can be dropped.

Safe to run at any time and to run twice: it is one transaction, and a value no key opens
stops it with the model, field and primary key before anything is written.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from malleable.encryption import UndecryptableSecret, rotate_all


class Command(BaseCommand):
    help = "Re-encrypt every EncryptedTextField value with the first key of MALLEABLE_ENCRYPTION_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the counts as one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rotations = rotate_all()
        except UndecryptableSecret as exc:
            raise CommandError(str(exc)) from None
        total = sum(rotation.values for rotation in rotations)
        older = sum(rotation.from_older_keys for rotation in rotations)
        if options["json"]:
            fields = [asdict(rotation) for rotation in rotations]
            self.stdout.write(json.dumps({"fields": fields, "values": total, "from_older_keys": older}))
            return
        for rotation in rotations:
            self.stdout.write(
                f"{rotation.field}: {rotation.values} re-encrypted, "
                f"{rotation.from_older_keys} of them from an older key"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{total} secrets re-encrypted with the current key; {older} moved off older keys."
            )
        )
