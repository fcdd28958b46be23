"""Compiled artifacts on disk: reused across restarts, and never loaded from bytes we did not write."""

from __future__ import annotations

import os
import stat

import pytest
import wasmtime
from wasmtime.component import Component

from checkers.sandbox import ErrorKind, Program, Sandbox, Status, cache
from checkers.sandbox.cache import ArtifactCache, sha256
from checkers.sandbox.engine import get_engine
from tests.sandbox.wat import DATASETS, QUICK, REFERENCE

REFERENCE_WASM = bytes(wasmtime.wat2wasm(REFERENCE))


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "wasm-cache"


@pytest.fixture
def deserialized(monkeypatch):
    """Every path handed to Module.deserialize_file, to prove what was (not) loaded."""
    paths: list[str] = []
    original = wasmtime.Module.deserialize_file

    def spy(engine, path):
        paths.append(path)
        return original(engine, path)

    monkeypatch.setattr(wasmtime.Module, "deserialize_file", staticmethod(spy))
    return paths


def _run_reference(cache_dir) -> None:
    """A fresh Sandbox stands for a restarted process: nothing in memory, only the disk cache."""
    outcome = Sandbox(cache_dir).run(Program.from_wasm(REFERENCE_WASM), DATASETS, QUICK)
    assert outcome.status == Status.GREEN, outcome.to_dict()


def _artifact(cache_dir):
    [path] = [p for p in cache_dir.iterdir() if p.suffix == ".module"]
    return path


def test_cache_dir_is_created_private(cache_dir):
    ArtifactCache(get_engine(), cache_dir / "nested")
    assert stat.S_IMODE((cache_dir / "nested").stat().st_mode) == 0o700


def test_an_open_cache_dir_is_made_private(cache_dir):
    cache_dir.mkdir(mode=0o777)
    cache_dir.chmod(0o777)
    ArtifactCache(get_engine(), cache_dir)
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700


def test_a_restart_loads_the_compiled_module_without_compiling(cache_dir, deserialized):
    _run_reference(cache_dir)
    artifact = _artifact(cache_dir)
    assert stat.S_IMODE(artifact.stat().st_mode) == 0o600
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp-")]
    content = artifact.read_bytes()
    _run_reference(cache_dir)
    assert deserialized == [str(artifact)]
    assert artifact.read_bytes() == content


def test_user_bytes_are_never_deserialized(cache_dir, deserialized):
    compiled = wasmtime.Module(get_engine(), REFERENCE_WASM).serialize()
    outcome = Sandbox(cache_dir).run(Program.from_wasm(bytes(compiled)), DATASETS, QUICK)
    assert outcome.error.kind == ErrorKind.INVALID_MODULE
    assert deserialized == []


def test_a_corrupted_cache_file_is_replaced_by_a_fresh_compile(cache_dir):
    _run_reference(cache_dir)
    artifact = _artifact(cache_dir)
    artifact.write_bytes(b"\x7fELF" + b"\0" * 100)
    _run_reference(cache_dir)
    assert artifact.read_bytes()[:4] == b"\x7fELF"
    assert artifact.stat().st_size > 104


def test_a_cache_file_others_could_write_is_not_loaded(cache_dir, deserialized):
    _run_reference(cache_dir)
    artifact = _artifact(cache_dir)
    artifact.chmod(0o666)
    deserialized.clear()
    _run_reference(cache_dir)
    assert deserialized == []
    assert stat.S_IMODE(artifact.stat().st_mode) == 0o600


def test_a_symlink_planted_in_the_cache_is_not_followed(cache_dir, tmp_path, deserialized):
    _run_reference(cache_dir)
    artifact = _artifact(cache_dir)
    elsewhere = tmp_path / "planted.module"
    os.replace(artifact, elsewhere)
    artifact.symlink_to(elsewhere)
    deserialized.clear()
    _run_reference(cache_dir)
    assert deserialized == []
    assert not artifact.is_symlink()


def test_cache_key_covers_the_engine_settings(cache_dir, monkeypatch):
    store = ArtifactCache(get_engine(), cache_dir)
    digest = sha256(REFERENCE_WASM)
    before = store.path_for("module", digest)
    monkeypatch.setattr(cache, "ENGINE_SETTINGS", cache.ENGINE_SETTINGS + ";other")
    assert store.path_for("module", digest) != before
    assert store.path_for("component", digest) != before


def test_components_are_cached_the_same_way(cache_dir, monkeypatch):
    wasm = bytes(wasmtime.wat2wasm("(component)"))
    assert isinstance(ArtifactCache(get_engine(), cache_dir).component(wasm), Component)
    [artifact] = [p for p in cache_dir.iterdir() if p.suffix == ".component"]
    loaded: list[str] = []
    original = Component.deserialize_file
    spy = staticmethod(lambda engine, path: loaded.append(path) or original(engine, path))
    monkeypatch.setattr(Component, "deserialize_file", spy)
    assert isinstance(ArtifactCache(get_engine(), cache_dir).component(wasm), Component)
    assert loaded == [str(artifact)]


def test_without_a_cache_dir_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outcome = Sandbox(None).run(Program.from_wasm(REFERENCE_WASM), DATASETS, QUICK)
    assert outcome.status == Status.GREEN
    assert list(tmp_path.iterdir()) == []


def test_the_cache_keeps_to_its_size_by_dropping_the_least_recently_used(cache_dir):
    engine = get_engine()
    wasms = [bytes(wasmtime.wat2wasm(f'(module (func (export "f{i}")))')) for i in range(3)]
    store = ArtifactCache(engine, cache_dir, max_bytes=10**9)
    for i, wasm in enumerate(wasms):
        store.module(wasm)
        os.utime(store.path_for("module", sha256(wasm)), ns=(i * 10**9, i * 10**9))
    store.module(wasms[0])  # a load makes the oldest the most recently used
    # Room for three of the four files, so exactly one must go: the least recently used.
    store.max_bytes = sum(p.stat().st_size for p in cache_dir.iterdir()) * 7 // 6
    store.module(bytes(wasmtime.wat2wasm('(module (func (export "g")))')))
    remaining = {p.name for p in cache_dir.iterdir()}
    assert store.path_for("module", sha256(wasms[1])).name not in remaining
    assert store.path_for("module", sha256(wasms[0])).name in remaining
    assert store.path_for("module", sha256(wasms[2])).name in remaining
