"""docs/tutorial-taskflow.md: every code excerpt appears verbatim in the file it names.

An excerpt is a fenced block in any language but ``bash``/``text`` (commands and
listings); the line above it names its source as ``path``: (a file of the example or of
its tests).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial-taskflow.md"
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
_LABEL = re.compile(r"^`((?:examples/taskflow|tests/taskflow)/[^`]+)`:$")
UNCHECKED = {"bash", "text"}


def _excerpts():
    text = TUTORIAL.read_text(encoding="utf8")
    for m in _BLOCK.finditer(text):
        lang, code = m.group(1), m.group(2)
        if lang in UNCHECKED:
            continue
        line_no = text.count("\n", 0, m.start()) + 1
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        label = _LABEL.match(before)
        yield pytest.param(label.group(1) if label else None, code, id=f"line{line_no}")


def test_tutorial_has_excerpts():
    params = list(_excerpts())
    assert len(params) >= 25
    sources = {p.values[0] for p in params}
    assert "examples/taskflow/app.py" in sources and "examples/taskflow/modules/live.py" in sources


@pytest.mark.parametrize(("source", "code"), list(_excerpts()))
def test_excerpt_is_verbatim(source, code):
    assert source is not None, "an excerpt must be introduced by a `path`: line naming its file"
    path = ROOT / source
    assert path.is_file(), f"{source} does not exist"
    assert code.rstrip("\n") in path.read_text(encoding="utf8"), (
        f"excerpt not found verbatim in {source}"
    )
