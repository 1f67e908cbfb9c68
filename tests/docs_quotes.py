"""Tests that quote the docs: an example in docs/ is checked against what the code does."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def docs_quote(page: str, after: str) -> str:
    """The first `backquoted` text after ``after`` in docs/``page`` (line breaks count as
    spaces, so a quote may wrap)."""
    text = " ".join((DOCS / page).read_text().split())
    start = text.index(" ".join(after.split()))
    return text[start:].split("`", 2)[1]
