"""The layout shows the architecture: the protocol-neutral core imports no protocol code.

Core modules of ``lcore`` (everything but the edge modules below) must never import
``lcore.wsgi``, ``lcore_asgi``, ``lcore_ws``, ``anyio``, ``h11`` or ``h2`` (at any
level, including imports inside functions), and ``import lcore`` must not import the
optional dependencies.
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
    "lcore/testing.py",  # TestClient drives both adapters
    "lcore/server.py",  # server adapters for app.run()
}

FORBIDDEN = ("lcore.wsgi", "lcore_asgi", "lcore_ws", "anyio", "h11", "h2", "lcore.concurrency",
             "lcore.testing", "lcore.server", "httpx", "uvicorn", "gunicorn", "hypercorn")


def _core_modules() -> list[Path]:
    mods = []
    for path in sorted(LCORE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel not in EDGE:
            mods.append(path)
    return mods


def _imported_names(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
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
    bad = [(line, name) for line, name in _imported_names(path) if _forbidden(name)]
    assert not bad, f"{path.relative_to(ROOT)} imports protocol/edge code: {bad}"


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    fake = LCORE / "_arch_probe_tmp.py"
    fake.write_text("def f():\n    from .wsgi import WSGIAdapter\n    import anyio\n")
    try:
        names = [n for _, n in _imported_names(fake)]
    finally:
        fake.unlink()
    assert any(_forbidden(n) for n in names)


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
