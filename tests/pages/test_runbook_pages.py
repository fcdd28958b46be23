from alarms.models import AlarmState
from runbooks.models import Runbook

NEW = "/n/alpha/runbooks/new/"


def form(**extra) -> dict:
    return {
        "title": "Null e-mails",
        "slug": "null-emails",
        "body": "# Call\n\nAsk **growth**.",
        "action": "save",
        **extra,
    }


def test_editor_writes_a_runbook(personas, login):
    response = login(personas.editor).post(NEW, form(owner=personas.viewer.pk))
    assert response["Location"] == "/n/alpha/runbooks/null-emails/"
    book = Runbook.objects.get(slug="null-emails")
    assert (book.namespace, book.owner) == (personas.a, personas.viewer)


def test_a_blank_slug_is_made_from_the_title(personas, login):
    client = login(personas.editor)
    assert 'data-slug-from="id_title"' in client.get(NEW).content.decode()
    assert client.post(NEW, form(slug="", title="Orders: late!")).status_code == 302
    assert Runbook.objects.get(namespace=personas.a).slug == "orders-late"
    refused = client.post(NEW, form(slug="", title="!!!")).content.decode()
    assert "Type a slug: the title has no letters or digits to make it from." in refused


def test_owner_choices_are_members_of_the_namespace(personas, login):
    choices = login(personas.editor).get(NEW).context["form"].fields["owner"].queryset
    assert {user.username for user in choices} == {"olivia", "eddie", "vera"}
    response = login(personas.editor).post(NEW, form(owner=personas.outsider.pk))
    assert "owner" in response.context["form"].errors
    assert not Runbook.objects.exists()


def test_preview_renders_sanitized_markdown(personas, login):
    body = "**bold**\n\n<script>alert(1)</script>"
    response = login(personas.editor).post(NEW, form(body=body, action="preview"), HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert "<strong>bold</strong>" in content
    assert "<script" not in content
    assert not Runbook.objects.exists()


def test_viewer_reads_but_cannot_write(personas, login):
    book = Runbook.objects.create(namespace=personas.a, slug="rb", title="RB", body="x")
    client = login(personas.viewer)
    assert 'data-testid="edit-runbook"' not in client.get(book.get_absolute_url()).content.decode()
    assert "needs the editor role" in client.get(NEW).content.decode()
    assert client.post(NEW, form()).status_code == 403
    assert client.post("/n/alpha/runbooks/rb/edit/", form(title="Hacked")).status_code == 403
    assert Runbook.objects.get(pk=book.pk).title == "RB"


def test_runbook_page_shows_linked_checkers_live_state_and_alarms(personas, login, red):
    book = Runbook.objects.create(namespace=personas.a, slug="rb", title="RB", body="Do **this**.")
    red.runbook = book
    red.save(update_fields=["runbook"])
    content = login(personas.viewer).get(book.get_absolute_url()).content.decode()
    assert AlarmState.objects.get(checker=red).state == "red"
    assert 'data-testid="linked-checker"' in content
    assert 'data-state="red"' in content
    assert "expected &lt; 42" in content
    assert 'data-testid="recent-alarms"' in content
    assert "Fired" in content
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in content
