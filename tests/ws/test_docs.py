"""The Python examples in docs/websockets.md run, in order, as one script."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "websockets.md"


def test_websocket_doc_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 6, "docs/websockets.md lost its examples"
    namespace: dict = {"__name__": "docs_example"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"websockets.md[block {i}]", "exec"), namespace)
        except Exception as e:  # pragma: no cover - the message says which block broke
            raise AssertionError(f"docs/websockets.md block {i} failed: {e!r}\n{code}") from e
