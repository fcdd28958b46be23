"""Create (or refresh) the demo namespace and its demo login; safe to run on every start."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from namespaces.models import Membership, Namespace, Role

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = "Create the demo namespace with a demo owner login, and print the login."

    @transaction.atomic
    def handle(self, *args, **options):
        namespace, _ = Namespace.objects.update_or_create(
            slug="demo",
            defaults={
                "name": "Demo shop",
                "description": "A demo team guarding the data of a small online shop.",
            },
        )
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.set_password(settings.DEMO_PASSWORD)
        user.save(update_fields=["password"])
        Membership.objects.update_or_create(user=user, namespace=namespace, defaults={"role": Role.OWNER})
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo namespace '{namespace.slug}' is ready. "
                f"Sign in at {settings.SITE_URL}/ as {DEMO_USERNAME} / {settings.DEMO_PASSWORD}"
            )
        )
