"""Create (or refresh) the demo namespace, its shop database and its checkers; safe on every start."""

import os
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from checks_as_code import config
from pages.demo import DEMO_CONFIG, demo_shop_path, make_demo_shop

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = "Load the demo namespace (examples/demo.yaml) over a freshly generated shop database."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        shop = demo_shop_path()
        shop.parent.mkdir(parents=True, exist_ok=True)
        shop.unlink(missing_ok=True)
        make_demo_shop(shop)
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.set_password(settings.DEMO_PASSWORD)
        user.save(update_fields=["password"])
        plan = config.import_file(DEMO_CONFIG, environ=dict(os.environ))
        self.stdout.write(plan.summary())
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo namespace 'demo' is ready. Sign in at {settings.SITE_URL}/ "
                f"as {DEMO_USERNAME} / {settings.DEMO_PASSWORD}"
            )
        )
