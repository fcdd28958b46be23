import pytest
from django.urls import reverse

from checkers import runs
from runbooks.models import Runbook, render_markdown


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src='https://evil.example'></iframe>",
    ],
)
def test_markdown_is_sanitized(attack):
    html = render_markdown(f"Before\n\n{attack}\n\nAfter")
    assert "alert(1)" not in html.replace("&lt;", "<") or "<script" not in html
    assert "<script" not in html
    assert "onerror" not in html
    assert "javascript:" not in html
    assert "<iframe" not in html
    assert "After" in html


def test_markdown_keeps_what_runbooks_need():
    html = render_markdown("# Call\n\n1. page *growth*\n2. run `fix.sh`\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    for fragment in ("<h1", "<ol>", "<em>growth</em>", "<code>fix.sh</code>", "<table>"):
        assert fragment in html
    assert 'rel="noopener noreferrer nofollow"' in render_markdown("[x](https://example.com)")


@pytest.fixture
def runbook(personas, seed):
    book = Runbook.objects.create(
        namespace=personas.a,
        slug="null-emails",
        title="Users without an e-mail",
        body="Ask **growth** to run the backfill.",
        owner=personas.editor,
    )
    for checker in seed:
        checker.runbook = book
        checker.save(update_fields=["runbook"])
    return book


def test_runbook_page_shows_body_checkers_and_recent_alarms(personas, login, runbook, seed, shop):
    shop.set_null_emails(50)
    runs.execute(seed[0])
    response = login(personas.viewer).get(runbook.get_absolute_url())
    content = response.content.decode()
    assert "<strong>growth</strong>" in content
    assert "Few null e-mails (Python)" in content
    assert [c.slug for c in response.context["checkers"]] == ["few-null-emails", "few-null-emails-py"]
    assert [run.status for run in response.context["recent"]] == ["red"]


def test_runbook_url_is_absolute_for_alarms(runbook, settings):
    settings.SITE_URL = "https://malleable.example.com"
    assert runbook.absolute_url() == "https://malleable.example.com/n/alpha/runbooks/null-emails/"


def test_runbook_list_is_scoped(personas, login, runbook):
    Runbook.objects.create(namespace=personas.b, slug="beta-book", title="Beta's secret runbook", body="x")
    content = login(personas.viewer).get(reverse("runbooks:list", args=["alpha"])).content.decode()
    assert "Users without an e-mail" in content
    assert "Beta&#x27;s secret runbook" not in content and "Beta's secret runbook" not in content


def test_owner_choices_hold_only_fellow_members(personas, login):
    response = login(personas.owner).get(reverse("admin:runbooks_runbook_add"))
    owners = {user.username for user in response.context["adminform"].form.fields["owner"].queryset}
    assert owners == {"olivia", "eddie", "vera"}
