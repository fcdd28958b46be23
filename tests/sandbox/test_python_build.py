"""The Python checker component: built from this repo, rebuilt only when its inputs change,
importing the WIT world's host functions and nothing else."""

from __future__ import annotations

import shutil

import pytest

from checkers.sandbox import ErrorKind, Sandbox, SandboxError, get_sandbox
from checkers.sandbox.component import IMPORTS, PythonRunner, python_runner
from checkers.sandbox.python import build as build_module
from checkers.sandbox.python.build import DEFAULT_OUT, HERE, REPO_ROOT, build, inputs_digest, is_current


@pytest.fixture(scope="module")
def python_sandbox() -> Sandbox:
    """The built component (built now if missing or stale) behind the shared on-disk cache."""
    build()
    return get_sandbox(REPO_ROOT / "var" / "wasm-cache")


def test_the_component_imports_only_the_wit_world(python_sandbox):
    runner = python_runner(python_sandbox.engine, python_sandbox.cache)
    imports = set(runner.component.type.imports(python_sandbox.engine))
    assert imports == IMPORTS
    assert not [name for name in imports if "wasi" in name]


def test_an_up_to_date_component_is_not_rebuilt(python_sandbox, capsys, monkeypatch):
    assert is_current(DEFAULT_OUT)
    mtime = DEFAULT_OUT.stat().st_mtime_ns

    def no_componentize(*args, **kwargs):
        raise AssertionError(f"componentize-py was started for an up-to-date component: {args}")

    monkeypatch.setattr(build_module.subprocess, "run", no_componentize)
    assert build() == DEFAULT_OUT
    assert DEFAULT_OUT.stat().st_mtime_ns == mtime
    assert build_module.main([]) == 0
    assert "up to date" in capsys.readouterr().out


def test_the_digest_covers_the_guest_and_the_wit(tmp_path):
    copy = tmp_path / "python"
    shutil.copytree(HERE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert inputs_digest(copy) == inputs_digest(HERE)
    with (copy / "guest" / "checker_api.py").open("a") as f:
        f.write("\n# changed\n")
    changed_guest = inputs_digest(copy)
    assert changed_guest != inputs_digest(HERE)
    with (copy / "wit" / "checker.wit").open("a") as f:
        f.write("\n// changed\n")
    assert inputs_digest(copy) not in (changed_guest, inputs_digest(HERE))


def test_a_stale_stamp_means_not_current(tmp_path):
    out = tmp_path / "python-checker.wasm"
    out.write_bytes(b"\0asm")
    (tmp_path / "python-checker.wasm.inputs").write_text("0" * 64 + "\n")
    assert not is_current(out)


def test_a_missing_component_is_a_clear_error(python_sandbox, tmp_path):
    with pytest.raises(SandboxError) as raised:
        PythonRunner(python_sandbox.engine, python_sandbox.cache, tmp_path / "missing.wasm")
    assert raised.value.kind == ErrorKind.INVALID_MODULE
    assert "make guest" in raised.value.detail
