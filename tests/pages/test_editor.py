from pathlib import Path

import pytest
import wasmtime
from django.core.files.uploadedfile import SimpleUploadedFile

from alarms.models import AlarmPolicy, Channel
from checkers.models import Checker, CheckRun, Datasource
from runbooks.models import Runbook
from tests.shop import SEED_MESSAGE, SEED_PYTHON

NEW = "/n/alpha/checkers/new/"
WAT = (Path(__file__).parents[1] / "sandbox" / "fixtures" / "few_null_emails.wat").read_text()


def rule_form(dataset, **extra) -> dict:
    return {
        "name": "Few null e-mails",
        "slug": "few-null",
        "kind": "rule",
        "severity": "warning",
        "rule_dataset": dataset.pk,
        "rule_metric": "row_count",
        "rule_op": "<",
        "rule_value": "42",
        "rule_message": SEED_MESSAGE,
        "schedule_cron": "*/5 * * * *",
        "enabled": "on",
        "params": "{}",
        "action": "save",
        **extra,
    }


def code_form(dataset, kind: str, source: str, **extra) -> dict:
    return {
        **rule_form(dataset),
        "slug": f"few-null-{kind}",
        "kind": kind,
        "source": source,
        "datasets": [dataset.pk],
        **extra,
    }


@pytest.fixture
def dataset(seed):
    return seed[1].datasets.get()


def test_editor_creates_a_rule_checker(personas, login, dataset):
    response = login(personas.editor).post(NEW, rule_form(dataset, tags="users nightly"))
    checker = Checker.objects.get(slug="few-null")
    assert response["Location"] == "/n/alpha/checkers/few-null/"
    assert checker.namespace == personas.a
    assert (checker.rule_dataset, checker.rule_metric, checker.rule_op, checker.rule_value) == (
        dataset,
        "row_count",
        "<",
        42,
    )
    assert checker.tag_list() == ["nightly", "users"]
    assert checker.next_run_at is not None
    assert not AlarmPolicy.objects.filter(checker=checker).exists()


def test_editor_saves_the_checkers_own_alarm_policy(personas, login, dataset):
    channel = Channel.objects.create(namespace=personas.a, slug="ops", kind="email", url="ops@example.com")
    form = rule_form(
        dataset, **{"alarm-after_failures": "3", "alarm-on_error": "ignore", "alarm-channels": [channel.pk]}
    )
    login(personas.editor).post(NEW, form)
    policy = AlarmPolicy.objects.get(checker__slug="few-null")
    assert (policy.after_failures, policy.on_error) == (3, "ignore")
    assert list(policy.channels.all()) == [channel]


def test_editor_creates_a_python_checker_reading_datasets(personas, login, dataset):
    login(personas.editor).post(NEW, code_form(dataset, "python", SEED_PYTHON))
    checker = Checker.objects.get(slug="few-null-python")
    assert checker.source == SEED_PYTHON
    assert list(checker.datasets.all()) == [dataset]


def test_choices_hold_only_this_namespaces_objects(personas, login, dataset, b_objects):
    form = login(personas.editor).get(NEW).context["form"]
    assert list(form.fields["rule_dataset"].queryset) == [dataset]
    assert list(form.fields["datasets"].queryset) == [dataset]
    Runbook.objects.create(namespace=personas.b, slug="b-book", title="B", body="x")
    assert not form.fields["runbook"].queryset.filter(namespace=personas.b).exists()


@pytest.mark.parametrize("field", ["rule_dataset", "datasets"])
def test_posting_another_namespaces_dataset_id_is_refused(personas, login, dataset, b_objects, field):
    b_dataset = b_objects[1]
    data = code_form(dataset, "python", SEED_PYTHON) if field == "datasets" else rule_form(dataset)
    data[field] = [b_dataset.pk] if field == "datasets" else b_dataset.pk
    response = login(personas.editor).post(NEW, data)
    assert response.status_code == 200
    assert "Select a valid choice" in str(response.context["form"].errors[field])
    assert not Checker.objects.filter(slug__in=["few-null", "few-null-python"]).exists()


def test_posting_another_namespaces_runbook_or_channel_is_refused(personas, login, dataset):
    book = Runbook.objects.create(namespace=personas.b, slug="b-book", title="B", body="x")
    channel = Channel.objects.create(namespace=personas.b, slug="b-ops", kind="email", url="b@example.com")
    response = login(personas.editor).post(
        NEW, rule_form(dataset, runbook=book.pk, **{"alarm-channels": [channel.pk]})
    )
    assert "runbook" in response.context["form"].errors
    assert "channels" in response.context["policy_form"].errors
    assert not Checker.objects.filter(slug="few-null").exists()


def test_slug_is_unique_in_the_namespace_and_page_names_are_reserved(personas, login, dataset, rule):
    client = login(personas.editor)
    taken = client.post(NEW, rule_form(dataset, slug=rule.slug))
    assert "already taken" in str(taken.context["form"].errors["slug"])
    reserved = client.post(NEW, rule_form(dataset, slug="new"))
    assert "name of a page" in str(reserved.context["form"].errors["slug"])
    Checker.objects.create(namespace=personas.b, slug="few-null", name="B's", schedule_every=60)
    assert client.post(NEW, rule_form(dataset)).status_code == 302


def test_python_syntax_error_points_at_its_line_and_saves_nothing(personas, login, dataset):
    source = "rows = datasets['users_with_email_null']\nif len(rows) > 1\n    fail('many')\n"
    response = login(personas.editor).post(NEW, code_form(dataset, "python", source))
    form = response.context["form"]
    assert form.source_error.line == 2
    assert "line 2" in form.errors["source"][0]
    assert "SyntaxError" in form.errors["source"][0]
    assert 'data-error-line="2"' in response.content.decode()
    assert not Checker.objects.filter(slug="few-null-python").exists()


def test_wat_error_points_at_line_and_column(personas, login, dataset):
    source = '(module\n  (func (export "check"))\n  (bogus)\n)'
    response = login(personas.editor).post(NEW, code_form(dataset, "wasm", source))
    form = response.context["form"]
    assert (form.source_error.line, form.source_error.column) == (3, 4)
    assert "line 3, column 4" in form.errors["source"][0]
    assert not Checker.objects.filter(slug="few-null-wasm").exists()


def test_wat_checker_saves_and_runs(personas, login, dataset, shop):
    login(personas.editor).post(NEW, code_form(dataset, "wasm", WAT))
    checker = Checker.objects.get(slug="few-null-wasm")
    assert checker.source == WAT


def test_wasm_upload_is_stored_and_checked(personas, login, dataset):
    client = login(personas.editor)
    module = SimpleUploadedFile("check.wasm", wasmtime.wat2wasm(WAT), content_type="application/wasm")
    client.post(NEW, code_form(dataset, "wasm", "", wasm_upload=module))
    checker = Checker.objects.get(slug="few-null-wasm")
    assert bytes(checker.wasm_module).startswith(b"\0asm")
    assert len(checker.wasm_sha256) == 64
    bad = SimpleUploadedFile("notes.wasm", b"hello", content_type="application/wasm")
    response = client.post(NEW, code_form(dataset, "wasm", "", slug="other", wasm_upload=bad))
    assert "not a WebAssembly module" in str(response.context["form"].errors["wasm_upload"])


def test_editing_keeps_the_uploaded_module_and_the_schedule(personas, login, dataset):
    client = login(personas.editor)
    module = SimpleUploadedFile("check.wasm", wasmtime.wat2wasm(WAT), content_type="application/wasm")
    client.post(NEW, code_form(dataset, "wasm", "", wasm_upload=module))
    checker = Checker.objects.get(slug="few-null-wasm")
    edit = f"{checker.get_absolute_url()}edit/"
    response = client.post(edit, code_form(dataset, "wasm", "", name="Renamed"))
    assert response.status_code == 302
    again = Checker.objects.get(pk=checker.pk)
    assert again.name == "Renamed"
    assert bytes(again.wasm_module) == bytes(checker.wasm_module)
    assert again.next_run_at == checker.next_run_at


def test_editor_test_run_records_nothing(personas, login, dataset, shop):
    shop.set_null_emails(50)
    source = "print('looking')\n" + SEED_PYTHON
    response = login(personas.editor).post(NEW, code_form(dataset, "python", source, action="test"))
    assert response.status_code == 200
    assert not Checker.objects.filter(slug="few-null-python").exists()
    assert not CheckRun.objects.exists()
    outcome = response.context["evaluation"].outcome
    assert outcome.status == "red"
    content = response.content.decode()
    assert "Nothing was recorded" in content
    assert SEED_MESSAGE in content
    assert "looking" in content
    assert 'data-testid="test-duration"' in content
    assert response.context["evaluation"].dataset_stats["users_with_email_null"]["rows"] == 50


def test_editor_test_run_of_a_cut_dataset_is_an_error_not_a_green(personas, login, dataset, shop):
    Datasource.objects.filter(pk=dataset.datasource_id).update(row_cap=7)
    shop.set_null_emails(50)
    data = code_form(dataset, "python", SEED_PYTHON, action="test")
    response = login(personas.editor).post(NEW, data, HTTP_HX_REQUEST="true")
    outcome = response.context["evaluation"].outcome
    assert outcome.error.to_dict() == {
        "kind": "dataset_truncated",
        "detail": "dataset_truncated: dataset users_with_email_null: 7 rows fetched and more were left "
        "(the row cap of datasource shop); aggregate or filter in the dataset's SQL, raise the "
        "datasource's row cap, or mark the dataset as a sample",
    }
    content = response.content.decode()
    assert "Error: <code>dataset_truncated</code>" in content
    assert "dataset users_with_email_null: 7 rows fetched and more were left" in content
    assert not CheckRun.objects.exists()
    assert not Checker.objects.filter(slug="few-null-python").exists()


def test_editor_lists_sample_datasets_with_their_badge(personas, login, dataset):
    client = login(personas.editor)
    assert 'data-testid="sample-datasets"' not in client.get(NEW).content.decode()
    dataset.sample = True
    dataset.save(update_fields=["sample"])
    response = client.get(NEW)
    content = response.content.decode()
    assert 'data-testid="sample-datasets"' in content
    assert ">sample: first 10,000 rows</span>" in content
    labels = [label for _, label in response.context["form"].fields["datasets"].choices]
    assert labels == ["users_with_email_null (sample: first 10,000 rows)"]


def test_editor_test_run_of_a_saved_checker_uses_the_typed_changes(personas, login, python_checker, dataset):
    edit = f"{python_checker.get_absolute_url()}edit/"
    data = code_form(dataset, "python", "fail('typed, not saved')\n", slug=python_checker.slug, action="test")
    response = login(personas.editor).post(edit, data, HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="test-result"')
    assert "typed, not saved" in content
    assert Checker.objects.get(pk=python_checker.pk).source == SEED_PYTHON
    assert not CheckRun.objects.exists()


def test_test_run_of_an_invalid_form_lists_the_errors(personas, login, dataset):
    source = "ok(\n"
    response = login(personas.editor).post(
        NEW, code_form(dataset, "python", source, action="test"), HTTP_HX_REQUEST="true"
    )
    content = response.content.decode()
    assert 'data-testid="test-form-errors"' in content
    assert 'data-error-line="1"' in content


def test_exception_in_a_test_run_points_at_its_line(personas, login, dataset):
    source = "x = 1\nraise ValueError('boom')\n"
    response = login(personas.editor).post(NEW, code_form(dataset, "python", source, action="test"))
    assert response.context["result_error_at"].line == 2
    assert 'data-testid="error-line">at line 2' in response.content.decode()


def test_schedule_preview_in_words(personas, login, settings):
    client = login(personas.viewer)
    text = client.get(
        "/n/alpha/checkers/schedule-preview/", {"schedule_cron": "*/5 * * * *"}
    ).content.decode()
    assert "Every 5 minutes, next at " in text
    assert "(UTC)" in text
    every = client.get("/n/alpha/checkers/schedule-preview/", {"schedule_every": "3600"}).content.decode()
    assert "Every hour, next at" in every
    bad = client.get("/n/alpha/checkers/schedule-preview/", {"schedule_cron": "every day"}).content.decode()
    assert "is not a cron schedule" in bad
    zone = client.get(
        "/n/alpha/checkers/schedule-preview/", {"schedule_cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"}
    ).content.decode()
    assert "(Europe/Berlin)" in zone
    assert "Monday through Friday" in zone


def test_editor_page_shows_the_schedule_preview_and_the_local_code_editor(personas, login, rule):
    content = login(personas.editor).get(f"{rule.get_absolute_url()}edit/").content.decode()
    assert "Every 5 minutes, next at" in content
    assert "/static/vendor/codemirror/codemirror.js" in content
    assert "/static/vendor/codemirror/python.js" in content
    assert "/static/vendor/codemirror/wast.js" in content
    assert 'data-testid="rule-sentence"' in content


def test_viewer_reads_the_editor_but_cannot_use_it(personas, login, rule, dataset):
    client = login(personas.viewer)
    response = client.get(f"{rule.get_absolute_url()}edit/")
    content = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="save"' not in content
    assert all(field.disabled for field in response.context["form"].fields.values())
    assert 'data-testid="read-only-note"' in content
    assert "needs the editor role" in client.get(NEW).content.decode()
    assert client.post(NEW, rule_form(dataset)).status_code == 403
    assert (
        client.post(f"{rule.get_absolute_url()}edit/", rule_form(dataset, name="Hacked")).status_code == 403
    )
    assert Checker.objects.get(pk=rule.pk).name == "Few null e-mails"
    assert not Checker.objects.filter(slug="few-null").exists()


def test_a_blank_slug_is_made_from_the_name(personas, login, dataset):
    response = login(personas.editor).post(NEW, rule_form(dataset, name="Few null É-mails!", slug=""))
    assert response["Location"] == "/n/alpha/checkers/few-null-e-mails/"
    assert Checker.objects.get(slug="few-null-e-mails").name == "Few null É-mails!"


def test_a_blank_slug_made_from_a_taken_name_says_so(personas, login, dataset, rule):
    response = login(personas.editor).post(NEW, rule_form(dataset, name=rule.slug.replace("-", " "), slug=""))
    assert "already taken" in str(response.context["form"].errors["slug"])


def test_a_name_without_letters_needs_a_typed_slug(personas, login, dataset):
    response = login(personas.editor).post(NEW, rule_form(dataset, name="!!!", slug=""))
    assert "Type a slug" in str(response.context["form"].errors["slug"])
