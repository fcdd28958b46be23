"""Runbooks: what to do when an alarm fires, linked from every alarm on every channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

if TYPE_CHECKING:
    from checkers.models import CheckRun

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from malleable.fields import optional_link
from namespaces.models import Namespace, NamespaceOwned

MARKDOWN_EXTENSIONS = ["extra", "sane_lists", "toc"]
# Allowed beside nh3's own tags. Links may leave the page but never run script: nh3 drops
# javascript: URLs and event handlers.
EXTRA_TAGS = {
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "code",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
    "del",
}


def render_markdown(text: str) -> SafeString:
    """Markdown and nh3 load on the first runbook shown, not in every process that loads models."""
    import markdown
    import nh3

    html = markdown.markdown(text, extensions=MARKDOWN_EXTENSIONS, output_format="html")
    tags = nh3.ALLOWED_TAGS | EXTRA_TAGS
    return mark_safe(nh3.clean(html, tags=tags, link_rel="noopener noreferrer nofollow"))  # noqa: S308


class Runbook(NamespaceOwned):
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="runbooks")
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown: who to call, what to look at, what to run.")
    owner = optional_link(settings.AUTH_USER_MODEL, help_text="Who keeps this runbook true.")

    class Meta(NamespaceOwned.Meta):
        ordering = ["namespace", "title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("runbooks:detail", args=[self.namespace.slug, self.slug])

    def absolute_url(self) -> str:
        """For alarms: a link that works from a phone, a chat message or an e-mail."""
        return settings.SITE_URL + self.get_absolute_url()

    def html(self) -> SafeString:
        return render_markdown(self.body)

    def recent_runs(self, limit: int = 10) -> QuerySet[CheckRun]:
        """The latest red and error runs of the checkers that link here: what sent people here."""
        from checkers.models import CheckRun, RunStatus

        return (
            CheckRun.objects.filter(checker__runbook=self, status__in=[RunStatus.RED, RunStatus.ERROR])
            .select_related("checker")
            .order_by("-finished")[:limit]
        )
