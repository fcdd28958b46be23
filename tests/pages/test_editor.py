from pathlib import Path

import pytest
import wasmtime
from django.core.files.uploadedfile import SimpleUploadedFile

from alarms.models import AlarmPolicy, Channel
from checkers.models import Checker, CheckRun, Datasource
from runbooks.models import Runbook
from tests.shop import SEED_MESSAGE, SEED_PYTHON

# A test run goes to a worker: here Celery runs it in the request, as with CELERY_TASK_ALWAYS_EAGER.
pytestmark = pytest.mark.usefixtures("eager_tasks")
NEW = "/n/alpha/checkers/new/"
WAT = (Path(__file__).parents[1] / "sandbox" / "fixtures" / "few_null_emails.wat").read_text()


SEED_RULE = {"metric": "row_count", "op": "<", "value": "42", "message": SEED_MESSAGE}


def rule_rows(*rows: dict, initial: int = 0) -> dict:
    """The rule builder's rows as the page posts them (a formset with prefix ``rules``)."""
    data = {"rules-TOTAL_FORMS": str(len(rows)), "rules-INITIAL_FORMS": str(initial)}
    for index, row in enumerate(rows):
        data |= {f"rules-{index}-{key}": value for key, value in row.items()}
    return data


def rule_form(dataset, **extra) -> dict:
    return {
        "name": "Few null e-mails",
        "slug": "few-null",
        "kind": "rule",
        "severity": "warning",
        **rule_rows({"dataset": dataset.pk, **SEED_RULE}),
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
    return seed[0].rules.get().dataset


def test_editor_creates_a_rule_checker(personas, login, dataset):
    response = login(personas.editor).post(NEW, rule_form(dataset, tags="users nightly"))
    checker = Checker.objects.get(slug="few-null")
    assert response["Location"] == "/n/alpha/checkers/few-null/"
    assert checker.namespace == personas.a
    rule = checker.rules.get()
    assert (rule.dataset, rule.metric, rule.op, rule.value, rule.message) == (
        dataset,
        "row_count",
        "<",
        42,
        SEED_MESSAGE,
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
    context = login(personas.editor).get(NEW).context
    form = context["form"]
    assert list(context["rule_formset"].forms[0].fields["dataset"].queryset) == [dataset]
    assert list(form.fields["datasets"].queryset) == [dataset]
    Runbook.objects.create(namespace=personas.b, slug="b-book", title="B", body="x")
    assert not form.fields["runbook"].queryset.filter(namespace=personas.b).exists()


def test_posting_another_namespaces_dataset_id_in_a_rule_is_refused(personas, login, dataset, b_objects):
    response = login(personas.editor).post(NEW, rule_form(dataset, **{"rules-0-dataset": b_objects[1].pk}))
    assert response.status_code == 200
    assert "Select a valid choice" in str(response.context["rule_formset"].forms[0].errors["dataset"])
    assert not Checker.objects.filter(slug="few-null").exists()


def test_posting_another_namespaces_dataset_id_to_read_is_refused(personas, login, dataset, b_objects):
    data = code_form(dataset, "python", SEED_PYTHON, datasets=[b_objects[1].pk])
    response = login(personas.editor).post(NEW, data)
    assert response.status_code == 200
    assert "Select a valid choice" in str(response.context["form"].errors["datasets"])
    assert not Checker.objects.filter(slug="few-null-python").exists()


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
    assert len(form.errors["source"]) == 1, form.errors["source"]  # not also "write the source"
    assert not any(row.errors for row in response.context["rule_formset"])  # not read, not checked
    assert not Checker.objects.filter(slug="few-null-python").exists()


def test_wat_error_points_at_line_and_column(personas, login, dataset):
    source = '(module\n  (func (export "check"))\n  (bogus)\n)'
    response = login(personas.editor).post(NEW, code_form(dataset, "wasm", source))
    form = response.context["form"]
    assert (form.source_error.line, form.source_error.column) == (3, 4)
    assert "line 3, column 4" in form.errors["source"][0]
    assert len(form.errors["source"]) == 1, form.errors["source"]
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


def test_editor_saves_a_suite_of_rules_in_the_order_shown(personas, login, dataset):
    second = {"dataset": dataset.pk, "metric": "null_count", "column": "username", "op": "==", "value": "0"}
    login(personas.editor).post(
        NEW, rule_form(dataset, **rule_rows(second, {"dataset": dataset.pk, **SEED_RULE}))
    )
    rules = list(Checker.objects.get(slug="few-null").rules.all())
    assert [(r.position, r.metric, r.column, r.op, r.value) for r in rules] == [
        (0, "null_count", "username", "==", 0),
        (1, "row_count", "", "<", 42),
    ]


def test_editing_removes_a_ticked_rule_and_keeps_the_others(personas, login, rule, dataset):
    kept = rule.rules.get()
    added = rule.rules.create(dataset=dataset, metric="row_count", op=">", value=1, position=1)
    rows = rule_rows(
        {"id": kept.pk, "dataset": dataset.pk, **SEED_RULE},
        {
            "id": added.pk,
            "dataset": dataset.pk,
            "metric": "row_count",
            "op": ">",
            "value": "1",
            "DELETE": "on",
        },
        initial=2,
    )
    edit = f"{rule.get_absolute_url()}edit/"
    response = login(personas.editor).post(edit, rule_form(dataset, slug=rule.slug, **rows))
    assert response.status_code == 302
    assert list(rule.rules.values_list("pk", flat=True)) == [kept.pk]


def test_a_rule_checker_without_a_rule_is_not_saved_and_says_so(personas, login, dataset):
    response = login(personas.editor).post(NEW, rule_form(dataset, **rule_rows()))
    assert response.status_code == 200
    assert 'data-testid="rule-errors"' in response.content.decode()
    assert "needs at least one rule" in response.content.decode()
    assert not Checker.objects.filter(slug="few-null").exists()


def test_an_incomplete_rule_is_marked_at_its_own_fields(personas, login, dataset):
    row = {"dataset": "", "metric": "avg", "column": "", "op": "between", "value": "5", "high": "1"}
    response = login(personas.editor).post(NEW, rule_form(dataset, **rule_rows(row)))
    errors = response.context["rule_formset"].forms[0].errors
    assert errors["dataset"] == ["A rule checks one dataset: pick it."]
    assert errors["column"] == ["The average of a column needs a column name."]
    assert errors["high"] == ["The upper bound must be at least the value."]
    assert not Checker.objects.filter(slug="few-null").exists()


def test_a_code_checker_ignores_the_hidden_blank_rule_row(personas, login, dataset):
    data = code_form(dataset, "python", SEED_PYTHON, **rule_rows({"dataset": "", "value": ""}))
    assert login(personas.editor).post(NEW, data).status_code == 302
    assert not Checker.objects.get(slug="few-null-python").rules.exists()


def test_turning_a_rule_checker_into_code_drops_its_rules(personas, login, rule, dataset):
    edit = f"{rule.get_absolute_url()}edit/"
    data = code_form(dataset, "python", SEED_PYTHON, slug=rule.slug)
    assert login(personas.editor).post(edit, data).status_code == 302
    assert not rule.rules.exists()


def test_test_run_of_a_typed_suite_measures_each_rule_and_records_nothing(personas, login, dataset, shop):
    shop.set_null_emails(50)
    rows = rule_rows(
        {"dataset": dataset.pk, **SEED_RULE},
        {"dataset": dataset.pk, "metric": "distinct_count", "column": "username", "op": ">=", "value": "50"},
    )
    response = login(personas.editor).post(NEW, rule_form(dataset, action="test", **rows))
    outcome = response.context["evaluation"].outcome
    assert [(m.level, m.text) for m in outcome.messages] == [
        ("fail", f"{SEED_MESSAGE} (50, expected < 42)"),
        ("ok", "distinct count of username in users_with_email_null (50 >= 50)"),
    ]
    assert not Checker.objects.filter(slug="few-null").exists()
    assert not CheckRun.objects.exists()
