"""Export namespaces as checks-as-code YAML on stdout (docs/contracts.md, "export_config").

Passwords never appear: each is a ``${VAR}`` reference, and a comment at the top lists the
variables an import of the output needs. Exit status: 0, or 64 for bad usage (an unknown
namespace).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from checkers.management.cli import EX_USAGE, UsageCommand
from checks_as_code import config
from namespaces.models import Namespace


class Command(UsageCommand):
    help = "Print namespaces (all, or those named) as checks-as-code YAML that import_config reads."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--namespace", action="append", metavar="SLUG", help="export only this namespace (repeatable)"
        )
        parser.add_argument(
            "--modules-dir",
            metavar="DIR",
            help="write compiled wasm modules as DIR/NAMESPACE/CHECKER.wasm and refer to them with wasm: "
            "paths, instead of inline wasm_base64; give DIR relative to where you save the YAML",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        namespaces = Namespace.objects.all()
        if options["namespace"]:
            wanted = set(options["namespace"])
            namespaces = namespaces.filter(slug__in=wanted)
            missing = wanted - {namespace.slug for namespace in namespaces}
            if missing:
                raise CommandError(f"no namespace {', '.join(sorted(missing))}", returncode=EX_USAGE)
        self.stdout.write(config.export_yaml(namespaces, modules_dir=options["modules_dir"]), ending="")
