"""The Content-Security-Policy allows scripts and styles only from static files: none may sit inline.

The browser test (tests/browser/test_content_security_policy.py) proves it on rendered pages;
this one names the file and line of any inline script, event handler or style attribute.
"""

from __future__ import annotations

import re
from pathlib import Path

from malleable.settings import BASE_DIR

INLINE = {
    "inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "event-handler attribute": re.compile(r"""\son[a-z]+\s*=\s*["'{]""", re.IGNORECASE),
    "style attribute": re.compile(r"""\sstyle\s*=\s*["'{]""", re.IGNORECASE),
    "<style> element": re.compile(r"<style[\s>]", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "htmx inline handler": re.compile(r"\bhx-on|\bhx-vars|\bjs:", re.IGNORECASE),
}


def _sources() -> list[Path]:
    return sorted([*(BASE_DIR / "templates").rglob("*.html"), *(BASE_DIR / "static" / "js").rglob("*.js")])


def _findings(path: Path) -> list[str]:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        for what, pattern in INLINE.items():
            if pattern.search(line):
                found.append(f"{path.relative_to(BASE_DIR)}:{number}: {what}: {line.strip()}")
    return found


def test_the_sources_are_found():
    names = {path.relative_to(BASE_DIR).as_posix() for path in _sources()}
    assert {"templates/base.html", "templates/checkers/editor.html", "static/js/editor.js"} <= names


def test_no_template_or_script_holds_inline_code_or_styles():
    assert [finding for path in _sources() for finding in _findings(path)] == []


def test_the_scan_sees_each_kind():
    samples = [
        "<script>alert(1)</script>",
        '<button onclick="go()">',
        '<div style="top: 1rem">',
        "<style>p {}</style>",
        '<a href="javascript:go()">',
        '<div hx-on:click="go()">',
    ]
    assert [what for sample in samples for what, pattern in INLINE.items() if pattern.search(sample)] == [
        "inline <script>",
        "event-handler attribute",
        "style attribute",
        "<style> element",
        "javascript: URL",
        "htmx inline handler",
    ]
