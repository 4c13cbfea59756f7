"""The python examples in docs/getting-started.md and docs/routing.md run, in order, as one script each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
RUN_AS_SCRIPT = ["getting-started.md", "routing.md"]


def _blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("name", RUN_AS_SCRIPT)
def test_doc_examples_run(name: str) -> None:
    blocks = _blocks(DOCS / name)
    assert len(blocks) >= 3, f"{name} lost its examples"
    namespace: dict = {"__name__": "docs_example"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{name}[block {i}]", "exec"), namespace)
        except Exception as e:  # pragma: no cover - the message says which block broke
            raise AssertionError(f"{name} block {i} failed: {e!r}\n{code}") from e
