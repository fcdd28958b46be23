import pytest

from checkers.models import Dataset, Datasource

NEW = "/n/alpha/datasets/new/"


def form(source, **extra) -> dict:
    return {
        "slug": "users_with_email_null",
        "datasource": source.pk,
        "sql": "SELECT username, email FROM users WHERE email IS NULL",
        "description": "",
        "action": "save",
        **extra,
    }


@pytest.fixture
def source(personas, shop) -> Datasource:
    return Datasource.objects.create(namespace=personas.a, slug="shop", engine="sqlite", url=shop.url)


def test_editor_creates_a_dataset(personas, login, source):
    response = login(personas.editor).post(NEW, form(source))
    assert response["Location"] == "/n/alpha/datasets/"
    assert Dataset.objects.get(slug="users_with_email_null").datasource == source


def test_a_dataset_of_a_cannot_pick_a_datasource_of_b(personas, login, source, b_objects):
    b_source = b_objects[0]
    client = login(personas.editor)
    choices = client.get(NEW).context["form"].fields["datasource"].queryset
    assert list(choices) == [source]
    response = client.post(NEW, form(source, datasource=b_source.pk))
    assert response.status_code == 200
    assert "Select a valid choice" in str(response.context["form"].errors["datasource"])
    assert not Dataset.objects.filter(namespace=personas.a).exists()
    preview = client.post(NEW, form(source, datasource=b_source.pk, action="preview"))
    assert preview.context["preview"] is None
    assert not Dataset.objects.filter(namespace=personas.a).exists()


def test_preview_shows_the_first_50_rows_and_the_time_and_saves_nothing(personas, login, source, shop):
    shop.set_null_emails(80)
    response = login(personas.editor).post(NEW, form(source, action="preview"))
    preview = response.context["preview"]
    assert (preview["total"], preview["shown"], len(preview["rows"])) == (80, 50, 50)
    assert preview["columns"] == ["username", "email"]
    assert not preview["truncated"]
    content = response.content.decode()
    assert "80 rows in" in content
    assert "showing the first 50" in content
    assert 'data-testid="row-cap-notice"' not in content
    assert not Dataset.objects.exists()


def test_preview_says_when_the_row_cap_was_hit_and_that_checkers_will_get_an_error(
    personas, login, source, shop
):
    Datasource.objects.filter(pk=source.pk).update(row_cap=10)
    shop.set_null_emails(30)
    response = login(personas.editor).post(NEW, form(source, action="preview"), HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert content.lstrip().startswith('<section id="dataset-preview"')
    assert "more than 10 rows in" in content
    assert "<strong>Showing the first 10 rows; the query returns more.</strong>" in content
    assert "The row cap of datasource shop stops it at 10." in content
    assert 'data-testid="row-cap-error"' in content
    assert "Code checkers that read it will end in an error (<code>dataset_truncated</code>)" in content
    assert 'data-testid="row-cap-sample"' not in content


def test_preview_of_a_sample_says_checkers_are_judged_on_the_first_rows(personas, login, source, shop):
    Datasource.objects.filter(pk=source.pk).update(row_cap=10)
    shop.set_null_emails(30)
    data = form(source, action="preview", sample="on")
    content = login(personas.editor).post(NEW, data, HTTP_HX_REQUEST="true").content.decode()
    assert "<strong>Showing the first 10 rows; the query returns more.</strong>" in content
    assert "This dataset is a sample: checkers see these first 10 rows and are judged on them." in content
    assert 'data-testid="row-cap-error"' not in content
    assert not Dataset.objects.exists()


def test_editor_marks_a_dataset_as_a_sample_and_the_pages_show_it(personas, login, source):
    Datasource.objects.filter(pk=source.pk).update(row_cap=10_000)
    client = login(personas.editor)
    assert client.post(NEW, form(source, sample="on")).status_code == 302
    assert Dataset.objects.get(slug="users_with_email_null").sample is True
    badge = 'data-testid="sample-badge"'
    listing = client.get("/n/alpha/datasets/").content.decode()
    assert listing.count(badge) == 1
    assert ">sample: first 10,000 rows</span>" in listing
    response = client.get("/n/alpha/datasets/users_with_email_null/")
    page = response.content.decode()
    assert page.count(badge) == 1
    assert ">sample: first 10,000 rows</span>" in page
    assert response.context["form"]["sample"].value() is True
    assert "Checks see only the first N rows" in page


def test_a_dataset_that_is_not_a_sample_has_no_badge(personas, login, source):
    client = login(personas.editor)
    client.post(NEW, form(source))
    assert 'data-testid="sample-badge"' not in client.get("/n/alpha/datasets/").content.decode()
    assert (
        'data-testid="sample-badge"'
        not in client.get("/n/alpha/datasets/users_with_email_null/").content.decode()
    )


def test_a_write_statement_is_refused_with_a_clear_error(personas, login, source):
    response = login(personas.editor).post(NEW, form(source, sql="DELETE FROM users"))
    assert response.status_code == 200
    assert response.context["form"].errors["sql"]
    assert not Dataset.objects.exists()


def test_a_failing_query_shows_its_error_in_the_preview(personas, login, source):
    response = login(personas.editor).post(NEW, form(source, sql="SELECT nope FROM users", action="preview"))
    assert "The query failed" in response.content.decode()


def test_viewer_reads_but_cannot_write_or_preview(personas, login, seed):
    source = seed[0].rules.get().dataset.datasource
    client = login(personas.viewer)
    page = client.get("/n/alpha/datasets/users_with_email_null/")
    assert page.status_code == 200
    assert 'data-testid="save"' not in page.content.decode()
    assert client.post(NEW, form(source, slug="x")).status_code == 403
    assert (
        client.post("/n/alpha/datasets/users_with_email_null/", form(source, action="preview")).status_code
        == 403
    )


def test_a_dataset_a_rule_checks_is_not_deleted(personas, login, seed):
    response = login(personas.editor).post("/n/alpha/datasets/users_with_email_null/delete/", follow=True)
    assert "A rule checker checks" in response.content.decode()
    assert Dataset.objects.filter(slug="users_with_email_null").exists()


LONG_CELLS = "SELECT username, hex(zeroblob(1000)) AS blob FROM users WHERE email IS NULL"


def test_preview_cuts_long_cells_and_says_so(personas, login, source, shop):
    shop.set_null_emails(80)

    response = login(personas.editor).post(NEW, form(source, sql=LONG_CELLS, action="preview"))

    preview = response.context["preview"]
    assert (preview["total"], len(preview["rows"]), preview["cut_cells"]) == (80, 50, 50)
    assert preview["rows"][0][1] == "0" * 200 + "…"
    content = response.content.decode()
    assert (
        "Long values are cut to their first 200 characters here (marked …); checkers get them whole."
        in content
    )
    assert "0" * 201 not in content


def test_preview_of_rows_past_the_byte_cap_says_why_and_what_to_do(personas, login, source, shop, settings):
    settings.DATASET_MAX_BYTES = 10_000
    shop.set_null_emails(80)

    response = login(personas.editor).post(NEW, form(source, sql=LONG_CELLS, action="preview"))

    assert response.context["preview"] == {
        "error": "dataset users_with_email_null: the rows came to more than the 10,000-byte cap of a dataset "
        "after 5 rows (MALLEABLE_DATASET_MAX_BYTES); select fewer or shorter columns, aggregate or filter "
        "in the dataset's SQL"
    }
