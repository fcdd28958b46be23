"""A module compiles once, when it is saved, within the operator's compile limits; one that
does not is refused where it was given, and a worker that must compile it records an error
run instead of hanging (issue 11, finding 5: a 29 MB module took 26-78 s and 1.2 GB in one
web request, and on a worker left its runs ``running``)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from checkers import tasks
from checkers.models import Checker, CheckerKind, CheckRun, RunStatus, Trigger
from checks_as_code import config
from tests.checkers.config_support import ENVIRON, locate, rich_file
from tests.sandbox.big_module import straight_line_module

NEW = "/n/alpha/checkers/new/"


@pytest.fixture(scope="module")
def attack() -> bytes:
    return straight_line_module()


@pytest.fixture(autouse=True)
def _one_second_to_compile(settings, tmp_path):
    settings.COMPILE_TIMEOUT_S = 1.0
    settings.SANDBOX_CACHE_DIR = tmp_path / "wasm-cache"


def _upload_form(dataset, module: bytes) -> dict:
    return {
        "name": "Heavy",
        "slug": "heavy",
        "kind": "wasm",
        "severity": "warning",
        "source": "",
        "datasets": [dataset.pk],
        "schedule_cron": "*/5 * * * *",
        "enabled": "on",
        "params": "{}",
        "action": "save",
        "wasm_upload": SimpleUploadedFile("heavy.wasm", module, content_type="application/wasm"),
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
    }


def test_the_editor_refuses_an_upload_that_does_not_compile_in_time(personas, login, seed, attack):
    dataset = seed[0].rules.get().dataset

    response = login(personas.editor).post(NEW, _upload_form(dataset, attack))

    assert response.status_code == 200
    errors = response.context["form"].errors["wasm_upload"]
    assert errors == [
        "heavy.wasm: this module did not compile within 1 s; make it smaller (fewer or shorter "
        "functions), or ask the operator to raise MALLEABLE_COMPILE_TIMEOUT"
    ]
    assert not Checker.objects.filter(slug="heavy").exists()


def test_a_module_saved_in_the_editor_is_compiled_into_the_cache(personas, login, seed, settings):
    settings.COMPILE_TIMEOUT_S = 60.0  # it must compile, however busy the machine
    dataset = seed[0].rules.get().dataset
    small = straight_line_module(10)

    response = login(personas.editor).post(NEW, _upload_form(dataset, small))

    assert response.status_code == 302
    assert [path.suffix for path in settings.SANDBOX_CACHE_DIR.iterdir()] == [".module"]


def test_the_model_refuses_it_for_the_admin_and_the_api(personas, attack):
    checker = Checker(
        namespace=personas.a, slug="heavy", name="Heavy", kind=CheckerKind.WASM, wasm_module=attack
    )
    checker.schedule_every = 300

    with pytest.raises(ValidationError) as refused:
        checker.full_clean()

    assert refused.value.message_dict["source"] == [
        "The uploaded module did not compile within 1 s; make it smaller (fewer or shorter "
        "functions), or ask the operator to raise MALLEABLE_COMPILE_TIMEOUT"
    ]


def test_checks_as_code_refuses_it_at_the_key_with_line_and_column(tmp_path, people, sqlite_dir, attack):
    path = rich_file(tmp_path, sqlite_dir)
    (tmp_path / "modules" / "seed.wasm").write_bytes(attack)

    with pytest.raises(config.ConfigInvalid) as refused:
        config.import_file(path, environ=ENVIRON)

    (error,) = refused.value.errors
    assert (error.line, error.column) == locate(path.read_text(), "modules/seed.wasm")
    assert "The uploaded module did not compile within 1 s" in error.message
    assert not Checker.objects.filter(slug="seed-in-wasm").exists()


def test_a_worker_whose_cache_lacks_it_records_an_error_run(personas, attack):
    # Saved before the limits existed, or the cache was cleared: the worker compiles it, bounded.
    checker = Checker.objects.create(
        namespace=personas.a,
        slug="heavy",
        name="Heavy",
        kind=CheckerKind.WASM,
        wasm_module=attack,
        schedule_every=300,
    )
    run = CheckRun.objects.create(checker=checker, trigger=Trigger.SCHEDULE)

    assert tasks.run_checker(run.pk) == RunStatus.ERROR

    run.refresh_from_db()
    assert (run.status, run.error_kind) == (RunStatus.ERROR, "compile_limit")
    assert run.error_detail.startswith("compile_limit: this module did not compile within 1 s")
