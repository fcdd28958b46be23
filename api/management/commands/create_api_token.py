"""Issue a personal API token and print it once (docs/contracts.md, "create_api_token").

Exit status: 0 printed; 64 bad usage, an unknown or inactive user, or a namespace the user
does not belong to (EX_USAGE, as the other commands).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandParser

from api.models import ApiToken
from checkers.management.cli import UsageCommand, usage_error
from namespaces.models import Namespace


class Command(UsageCommand):
    help = "Create a personal API token for USER and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="the username the token acts as")
        parser.add_argument("--name", default="created by create_api_token", help="what uses the token")
        parser.add_argument("--namespace", metavar="SLUG", help="narrow the token to this namespace")
        parser.add_argument("--read-only", action="store_true", help="refuse every write made with it")
        parser.add_argument("--expires", type=int, metavar="DAYS", help="expire after DAYS days")
        parser.add_argument("--json", action="store_true", help='print {"token", "name", "expires_at", ...}')

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise usage_error(f"no active user {options['user']!r}")
        namespace = None
        if options["namespace"]:
            namespace = Namespace.objects.filter(slug=options["namespace"]).first()
            if namespace is None or namespace.role_of(user) is None:
                raise usage_error(f"{user.username} is not a member of a namespace {options['namespace']!r}")
        if options["expires"] is not None and options["expires"] < 1:
            raise usage_error(f"--expires must be at least 1 day, not {options['expires']}")
        token, text = ApiToken.issue(
            user,
            options["name"],
            namespace=namespace,
            read_only=options["read_only"],
            expires_in_days=options["expires"],
        )
        if options["json"]:
            self.stdout.write(json.dumps(_described(token, text)))
        else:
            self.stdout.write(text)


def _described(token: ApiToken, text: str) -> dict[str, Any]:
    return {
        "token": text,
        "name": token.name,
        "user": token.user.username,
        "namespace": token.namespace.slug if token.namespace else None,
        "read_only": token.read_only,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }
