from __future__ import annotations

from typing import Any

from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.contrib.auth import get_user_model

from pages.forms.checkers import NamespaceForm
from runbooks.models import Runbook


class RunbookForm(NamespaceForm):
    slug_from = "title"

    class Meta:
        model = Runbook
        fields = ["title", "slug", "owner", "body"]
        labels = {"owner": "Kept by", "body": "Runbook (Markdown)"}
        widgets = {"body": forms.Textarea(attrs={"rows": 18, "class": "font-monospace"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = get_user_model()._default_manager.filter(
            is_active=True, memberships__namespace=self.namespace
        )
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)  # the form field of a foreign key
        owner.queryset = members.order_by("username")
        owner.empty_label = "Nobody yet"
        self.helper.layout = Layout(
            Row(
                Column("title", css_class="col-md-6"),
                Column("slug", css_class="col-md-3"),
                Column("owner", css_class="col-md-3"),
            ),
            "body",
        )
