"""Every ```python block in docs/middleware.md, security.md and migration.md runs, on both protocols."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import lcore

DOCS = Path(__file__).resolve().parents[2] / "docs"
FILES = ["middleware.md", "security.md", "migration.md"]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks():
    for name in FILES:
        text = (DOCS / name).read_text(encoding="utf8")
        for i, m in enumerate(_BLOCK.finditer(text)):
            line = text.count("\n", 0, m.start()) + 2
            yield pytest.param(name, m.group(1), id=f"{name}:{line}")


def test_docs_have_examples():
    assert len(list(_blocks())) >= 15


@pytest.mark.parametrize(("name", "code"), list(_blocks()))
def test_doc_example_runs(name, code, proto, monkeypatch, request):
    if "REDIS_URL" in code:
        import redis

        # The Redis example reads REDIS_URL; give it a private, empty database.
        docs_url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/1"
        r = redis.Redis.from_url(docs_url)
        r.flushdb()
        r.close()
        monkeypatch.setenv("REDIS_URL", docs_url)

    clients = []
    real = lcore.TestClient

    def client_for_protocol(app, *a, **kw):
        kw.setdefault("protocol", proto)
        c = real(app, *a, **kw)
        clients.append(c)
        return c

    monkeypatch.setattr(lcore, "TestClient", client_for_protocol)
    try:
        # dont_inherit: run as a user's script would, without this file's __future__ imports
        # (they would turn a doc's dataclass annotations into strings).
        exec(compile(code, f"docs/{name}", "exec", dont_inherit=True), {"__name__": "__docs__"})
    finally:
        for c in clients:
            c.close()
