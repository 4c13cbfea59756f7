"""The layout shows the architecture: the protocol-neutral core imports no protocol code.

Core modules of ``lcore`` (everything but the edge modules below) must never import
``lcore.wsgi``, ``lcore_asgi``, ``lcore_ws``, ``anyio``, ``asyncio``, ``h11`` or ``h2``
(at any level, including imports inside functions), and ``import lcore`` must not import
the optional dependencies.

One concurrency seam: in ``lcore``, ``lcore_asgi`` and ``lcore_ws`` only
``lcore/concurrency.py`` imports ``asyncio`` or anyio's thread hops (``anyio.from_thread``,
``anyio.to_thread``) or calls asyncio's loop/thread API; every other module reaches them
through it. The few exceptions are listed in ``ASYNCIO_ALLOWED``, each with its reason.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LCORE = ROOT / "lcore"

#: The edge of the lcore package: adapters and the tools that start loops/servers.
EDGE = {
    "lcore/__init__.py",  # wires the edge in (installs the concurrency bridge)
    "lcore/__main__.py",  # CLI
    "lcore/wsgi.py",  # the WSGI adapter
    "lcore/concurrency.py",  # the only module that hops between loops and threads
    "lcore/_loops.py",  # part of the concurrency seam: event loops, tasks, events
    "lcore/testing.py",  # TestClient drives both adapters
    "lcore/server.py",  # server adapters for app.run()
}

FORBIDDEN = ("lcore.wsgi", "lcore_asgi", "lcore_ws", "anyio", "asyncio", "sniffio", "trio", "h11", "h2",
             "lcore.concurrency", "lcore.testing", "lcore.server", "httpx", "uvicorn", "gunicorn", "hypercorn")

#: Every package the concurrency seam covers.
PACKAGES = ("lcore", "lcore_asgi", "lcore_ws")
#: The one module that hops between event loops and threads.
SEAM = "lcore/concurrency.py"
#: The modules the seam is split into (``SEAM`` re-exports their public names).
SEAM_PARTS = {SEAM, "lcore/_loops.py"}
#: Modules that may still use asyncio (or a raw anyio hop) themselves, and why.
ASYNCIO_ALLOWED = {
    "lcore/server.py": "the hypercorn adapter runs hypercorn.asyncio.serve under asyncio.run",
    "lcore/reloader.py": "the in-loop reloader polls from an asyncio task (to move behind the seam: #13)",
    "lcore_asgi/server/_fast_stream.py": "the embedded server's asyncio-transport fast path (anyio streams elsewhere)",
    "lcore_asgi/server/serving.py": "Server.run_in_thread starts its own anyio portal (to move behind the seam: #13)",
}
#: What counts as using asyncio / a raw hop: modules imported, and attributes reached
#: through ``asyncio.`` or ``anyio.`` (``anyio.from_thread.run``, ``asyncio.get_running_loop``).
RAW_MODULES = ("asyncio", "anyio.from_thread", "anyio.to_thread")
RAW_ANYIO_ATTRS = {"from_thread", "to_thread"}


def _core_modules() -> list[Path]:
    """The protocol-neutral core: every module of ``lcore`` not in ``EDGE``."""
    mods = []
    for path in sorted(LCORE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel not in EDGE:
            mods.append(path)
    return mods


def _seam_modules() -> list[Path]:
    """Every module of ``PACKAGES`` but the seam itself."""
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
            if p.relative_to(ROOT).as_posix() not in SEAM_PARTS]


def _raw_concurrency(path: Path) -> list[tuple[int, str]]:
    """Where ``path`` imports asyncio / anyio's hops, or reaches them as ``asyncio.x``/``anyio.from_thread``."""
    out = [(line, name) for line, name in _imported_names(path)
           if any(name == m or name.startswith(m + ".") for m in RAW_MODULES)
           or name in ("anyio.from_thread", "anyio.to_thread")]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "asyncio" or (node.value.id == "anyio" and node.attr in RAW_ANYIO_ATTRS):
                out.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return sorted(set(out))


def _imported_names(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    inside = path.is_relative_to(ROOT)
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1]) if inside else "lcore"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return out


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_core_module_list_is_not_empty() -> None:
    names = {p.name for p in _core_modules()}
    assert {"app.py", "dispatch.py", "routing.py", "request.py", "response.py", "context.py"} <= names


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_core_module_imports_no_protocol_code(path: Path) -> None:
    asyncio_ok = path.relative_to(ROOT).as_posix() in ASYNCIO_ALLOWED
    bad = [(line, name) for line, name in _imported_names(path) if _forbidden(name)
           and not (asyncio_ok and (name == "asyncio" or name.startswith("asyncio.")))]
    assert not bad, f"{path.relative_to(ROOT)} imports protocol/edge code: {bad}"


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    fake = LCORE / "_arch_probe_tmp.py"
    fake.write_text("def f():\n    from .wsgi import WSGIAdapter\n    import anyio\n")
    try:
        names = [n for _, n in _imported_names(fake)]
    finally:
        fake.unlink()
    assert any(_forbidden(n) for n in names)


@pytest.mark.parametrize("path", _seam_modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_only_the_concurrency_module_uses_asyncio_or_raw_hops(path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    raw = _raw_concurrency(path)
    if rel in ASYNCIO_ALLOWED:
        assert raw, f"{rel} no longer needs asyncio: take it off ASYNCIO_ALLOWED"
        return
    assert not raw, (f"{rel} uses asyncio / a raw anyio hop {raw}; go through lcore.concurrency "
                     f"(or list it in ASYNCIO_ALLOWED with the reason)")


def test_the_seam_checker_catches_asyncio(tmp_path: Path) -> None:
    # Probes outside the tree are read as modules of lcore.
    for text in ("import asyncio\n", "from asyncio import Queue\n", "import anyio.from_thread\n",
                 "import anyio\ndef f():\n    return anyio.to_thread.run_sync\n",
                 "def f(asyncio):\n    return asyncio.get_running_loop()\n"):
        probe = tmp_path / "probe.py"
        probe.write_text(text)
        assert _raw_concurrency(probe), text
        assert any(_forbidden(name) for _, name in _imported_names(probe)) or "asyncio." in text, text
    probe.write_text("import anyio\nfrom redis import asyncio as aioredis\nanyio.sleep\n")
    assert not _raw_concurrency(probe)


def test_allowed_asyncio_modules_exist() -> None:
    assert all((ROOT / rel).is_file() for rel in ASYNCIO_ALLOWED), ASYNCIO_ALLOWED
    assert SEAM not in ASYNCIO_ALLOWED and (ROOT / SEAM).is_file()


def test_core_does_not_touch_scope_or_environ_outside_the_request_view() -> None:
    # request.py keeps ``request.environ`` (a compatibility view); nothing else in the
    # core may index a WSGI environ or an ASGI scope.
    offenders = []
    # ProxyFixMiddleware keeps that view in step when it rewrites the client address.
    allowed = {"lcore/request.py", "lcore/middleware/proxy.py"}
    for path in _core_modules():
        if path.relative_to(ROOT).as_posix() in allowed:
            continue
        text = path.read_text()
        for needle in ('environ["', "environ['", 'scope["', "scope['", "wsgi.input"):
            if needle in text:
                offenders.append((path.relative_to(ROOT).as_posix(), needle))
    assert not offenders, offenders


def test_import_lcore_loads_no_optional_dependency() -> None:
    code = (
        "import sys, lcore; "
        "print(','.join(m for m in ('httpx','jinja2','redis','websockets','h11','h2','mako') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import lcore imported: {out}"
