"""Personal API tokens: a token acts as its user, optionally narrowed to one namespace or to reading.

Only a SHA-256 of the token is stored; its short public prefix finds the row, so a lookup
never compares secrets in the database. The token is shown once, when it is issued.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from namespaces.models import AnyUser, Namespace

TOKEN_KIND = "mlb"  # noqa: S105 (the public marker that starts every token, not a secret)
PREFIX_BYTES = 6
SECRET_BYTES = 32
# last_used_at is written at most this often per token, so reads do not each cost a write.
TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self, now: datetime | None = None) -> ApiTokenQuerySet:
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    namespace = models.ForeignKey(
        Namespace,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
        help_text="Only this namespace; empty: every namespace the user belongs to.",
    )
    read_only = models.BooleanField(default=False, help_text="Reads only: every write is refused (403).")
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_KIND}_{self.prefix}…)"

    @classmethod
    def issue(
        cls,
        user: AnyUser,
        name: str,
        *,
        namespace: Namespace | None = None,
        read_only: bool = False,
        expires_in_days: int | None = None,
    ) -> tuple[ApiToken, str]:
        """A new token and its text, which exists nowhere else: show it once."""
        prefix = secrets.token_hex(PREFIX_BYTES)
        text = f"{TOKEN_KIND}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        token = cls.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            secret_hash=_digest(text),
            namespace=namespace,
            read_only=read_only,
            expires_at=expires_at,
        )
        return token, text

    @classmethod
    def find(cls, text: str) -> ApiToken | None:
        """The live token ``text`` names: None if unknown, wrong, revoked or expired."""
        kind, _, rest = text.partition("_")
        prefix, _, secret = rest.partition("_")
        if kind != TOKEN_KIND or not prefix or not secret:
            return None
        token = cls.objects.active().select_related("user", "namespace").filter(prefix=prefix).first()
        if token is None or not hmac.compare_digest(token.secret_hash, _digest(text)):
            return None
        return token

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    def touch(self, now: datetime | None = None) -> None:
        now = now or timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= TOUCH_EVERY:
            self.last_used_at = now
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)

    def revoke(self) -> bool:
        """Revoke now; False if it already was."""
        now = timezone.now()
        revoked = ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=now)
        if revoked:
            self.revoked_at = now
        return bool(revoked)
