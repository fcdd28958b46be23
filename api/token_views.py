"""The page where a user creates (shown once), lists and revokes their personal API tokens."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from api.models import ApiToken
from namespaces.models import AnyUser, Namespace

MAX_EXPIRY_DAYS = 3650


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it: ci-deploy, nightly-export.")
    namespace = forms.ModelChoiceField(
        queryset=Namespace.objects.none(),
        required=False,
        empty_label="Every namespace I belong to",
        help_text="Narrow it to one namespace.",
    )
    read_only = forms.BooleanField(required=False, help_text="Refuse every write made with it.")
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        label="Expires after (days)",
        help_text="Empty: never. A token for CI wants an expiry.",
    )

    def __init__(self, *args: Any, user: AnyUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        namespace = self.fields["namespace"]
        assert isinstance(namespace, forms.ModelChoiceField)
        namespace.queryset = Namespace.objects.for_user(user).order_by("name")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None, user=request.user)
    issued = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        _, issued = ApiToken.issue(
            request.user,
            data["name"],
            namespace=data["namespace"],
            read_only=data["read_only"],
            expires_in_days=data["expires_in_days"],
        )
        form = TokenForm(user=request.user)
    tokens = ApiToken.objects.filter(user=_signed_in(request)).select_related("namespace")
    return render(request, "api/tokens.html", {"form": form, "tokens": tokens, "issued": issued})


@login_required
@require_POST
def token_revoke(request: HttpRequest, token: str) -> HttpResponse:
    found = ApiToken.objects.filter(user=_signed_in(request), prefix=token).first()
    if found is None:
        raise Http404("No such token of yours.")
    if found.revoke():
        messages.success(request, f"Revoked {found.name}: it is refused from its next request.")
    return redirect("api-tokens")


def _signed_in(request: HttpRequest) -> User:
    """The user of a ``login_required`` view."""
    assert isinstance(request.user, User), "login_required lets only signed-in users through"
    return request.user
