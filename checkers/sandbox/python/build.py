"""Build the Python checker component: CPython, the guest runner and the bundled stdlib, as wasm.

    .venv/bin/python -m checkers.sandbox.python.build [--out var/python-checker.wasm] [--force]

componentize-py imports ``guest/checker_runner.py`` at build time (that import is what
bundles and pre-initialises the allowed standard library) and links the result against
``wit/checker.wit`` with ``--stub-wasi``: the component imports nothing but the host
functions of that world, so it can neither block nor reach a file. componentize-py
carries its CPython inside its wheel, so the build needs no network.

The component is rebuilt only when an input changes: the sha256 of the WIT files, the
guest sources, this script and the componentize-py version is stored next to it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WIT_DIR = HERE / "wit"
GUEST_DIR = HERE / "guest"
REPO_ROOT = HERE.parents[2]
DEFAULT_OUT = REPO_ROOT / "var" / "python-checker.wasm"
WORLD = "python-checker"
APP_MODULE = "checker_runner"


class BuildError(RuntimeError):
    """componentize-py failed; its output says why (often an import error in the guest)."""


def _inputs(root: Path) -> list[Path]:
    files = [*(root / "wit").rglob("*.wit"), *(root / "guest").rglob("*.py"), root / "build.py"]
    return sorted(path for path in files if "__pycache__" not in path.parts)


def inputs_digest(root: Path = HERE) -> str:
    """What the component is made from; a change here, and only here, means a rebuild."""
    digest = hashlib.sha256(importlib.metadata.version("componentize-py").encode())
    for path in _inputs(root):
        digest.update(b"\0" + path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stamp_path(out: Path) -> Path:
    return out.with_name(out.name + ".inputs")


def is_current(out: Path = DEFAULT_OUT) -> bool:
    stamp = _stamp_path(out)
    return out.is_file() and stamp.is_file() and stamp.read_text().strip() == inputs_digest()


def _componentize_command(out: Path) -> list[str]:
    """The CLI lives next to the interpreter of this virtualenv; fall back to PATH."""
    cli = Path(sys.executable).with_name("componentize-py")
    program = str(cli) if cli.exists() else shutil.which("componentize-py") or "componentize-py"
    return [
        program,
        "--quiet",
        "-d",
        str(WIT_DIR),
        "-w",
        WORLD,
        "componentize",
        "--stub-wasi",
        "-p",
        str(GUEST_DIR),
        APP_MODULE,
        "-o",
        str(out),
    ]


def _clean_env() -> dict[str, str]:
    """Without VIRTUAL_ENV componentize-py adds no site-packages: the guest sees only stdlib and guest/."""
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def build(out: Path = DEFAULT_OUT, *, force: bool = False) -> Path:
    """Build the component at ``out`` unless it is up to date; returns ``out``."""
    out = Path(out)
    if not force and is_current(out):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    digest = inputs_digest()
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".build-") as tmp:
        partial = Path(tmp) / out.name
        command = _componentize_command(partial)
        result = subprocess.run(command, cwd=tmp, env=_clean_env(), capture_output=True, text=True)
        if result.returncode != 0 or not partial.is_file():
            raise BuildError(f"componentize-py failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        os.replace(partial, out)
    _stamp_path(out).write_text(digest + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    if not args.force and is_current(args.out):
        print(f"{args.out} is up to date")
        return 0
    started = time.perf_counter()
    try:
        build(args.out, force=True)
    except BuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    size_mb = args.out.stat().st_size / 1e6
    print(f"built {args.out} ({size_mb:.1f} MB) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
