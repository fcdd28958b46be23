"""Import checks as code from a YAML file: all of it or nothing (docs/contracts.md, "import_config").

Exit status: 0 imported (or, with ``--dry-run``, valid); 1 the file is not a valid
configuration (every error is printed on stderr as FILE:LINE:COLUMN: KEY.PATH: message, and
nothing was changed); 64 bad usage or a file that cannot be read (EX_USAGE, as sandbox_run).
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.core.management.base import CommandError, CommandParser

from checkers.management.cli import EX_USAGE, UsageCommand
from checks_as_code import config

EX_INVALID = 1


class Command(UsageCommand):
    help = (
        "Import namespaces, datasources, datasets, runbooks, checkers, alarm policies and channels "
        "from a checks-as-code YAML file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE.yaml", help="the checks-as-code file")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and print the plan; change nothing"
        )
        parser.add_argument(
            "--json", action="store_true", help="print the plan (or the errors) as one JSON object"
        )
        parser.add_argument(
            "--create-users",
            action="store_true",
            help="create members that do not exist yet, with no usable password",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        try:
            plan = config.import_file(path, dry_run=options["dry_run"], create_users=options["create_users"])
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise CommandError(f"cannot read {path}: {reason}", returncode=EX_USAGE) from None
        except config.ConfigInvalid as exc:
            self._refuse(path, exc, as_json=options["json"])
        if options["json"]:
            self.stdout.write(json.dumps(plan.as_dict()))
        else:
            self.stdout.write(plan.summary())

    def _refuse(self, path: str, exc: config.ConfigInvalid, *, as_json: bool) -> NoReturn:
        if as_json:
            self.stdout.write(json.dumps({"file": path, "errors": [error.as_dict() for error in exc.errors]}))
        for error in exc.errors:
            self.stderr.write(str(error))
        count = len(exc.errors)
        raise CommandError(
            f"{count} error{'s' if count != 1 else ''} in {path}: nothing was changed", returncode=EX_INVALID
        )
