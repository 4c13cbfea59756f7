"""The layout shows the architecture: the protocol-neutral core knows no protocol.

Which modules are core, edge or batteries is listed once, in ``lcore/_layout.py``; the
docs page ``docs/concepts.md`` shows the same list (checked here).

Every module of ``lcore`` but the edge (core and batteries alike):

- imports no edge or protocol code: ``lcore.wsgi``, ``lcore.wsgi_request``,
  ``lcore_asgi``, ``lcore_ws``, ``anyio``, ``asyncio``, ``h11``, ``h2``... (at any level,
  including imports inside functions);
- names no ``environ``/``scope`` (variable, argument, or attribute such as
  ``req.environ``), no ``asyncio``/``anyio``/``trio``, and reads no CGI/WSGI/ASGI key
  (``"PATH_INFO"``, ``"wsgi.input"``, ``"http.request"``...), read from the syntax tree.
  The few compatibility views that must are listed in ``COMPAT``, each with its reason.

``import lcore`` must not import the optional dependencies.

One concurrency seam: in ``lcore``, ``lcore_asgi`` and ``lcore_ws`` only
``lcore/concurrency.py`` imports ``asyncio`` or anyio's thread hops (``anyio.from_thread``,
``anyio.to_thread``) or calls asyncio's loop/thread API; every other module reaches them
through it. The few exceptions are listed in ``ASYNCIO_ALLOWED``, each with its reason.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lcore._layout import CORE_MODULES, EDGE_MODULES

ROOT = Path(__file__).resolve().parents[1]
LCORE = ROOT / "lcore"


def _module_path(name: str) -> Path:
    """``lcore.request`` -> ROOT/lcore/request.py (a package -> its ``__init__.py``)."""
    base = ROOT.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


#: The edge of the lcore package: adapters and the tools that start loops/servers.
EDGE = {_module_path(m).relative_to(ROOT).as_posix() for m in EDGE_MODULES}

FORBIDDEN = tuple(m for m in EDGE_MODULES if m != "lcore") + (
    "lcore_asgi",
    "lcore_ws",
    "anyio",
    "asyncio",
    "sniffio",
    "trio",
    "h11",
    "h2",
    "httpx",
    "uvicorn",
    "gunicorn",
    "hypercorn",
)

#: Names, attributes and string keys that mean "reading a protocol's own input".
PROTOCOL_NAMES = frozenset(("environ", "scope", "asyncio", "anyio", "trio", "sniffio"))
#: A battery may use the word ``scope`` in its own sense (the names a function sees);
#: the core may not, and ``.scope`` attributes and ASGI keys stay banned everywhere.
BATTERY_NAMES = PROTOCOL_NAMES - {"scope"}
CORE_PATHS = {_module_path(m).relative_to(ROOT).as_posix() for m in CORE_MODULES}
PROTOCOL_ATTRS = frozenset(("environ", "_environ", "scope", "_scope"))
PROTOCOL_KEYS = frozenset(
    (
        "wsgi.input",
        "wsgi.errors",
        "wsgi.url_scheme",
        "wsgi.file_wrapper",
        "wsgi.input_terminated",
        "wsgi.multithread",
        "wsgi.multiprocess",
        "REQUEST_METHOD",
        "PATH_INFO",
        "SCRIPT_NAME",
        "QUERY_STRING",
        "REMOTE_ADDR",
        "REMOTE_PORT",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "HTTP_HOST",
        "HTTP_COOKIE",
        "HTTP_UPGRADE",
        "http.request",
        "http.disconnect",
        "http.response.start",
        "http.response.body",
        "websocket.accept",
        "websocket.receive",
        "websocket.send",
        "websocket.close",
        "lifespan.startup",
        "lifespan.shutdown",
    )
)
#: Where a non-edge module may still name an environ or a scope: (module, qualified name
#: of the function or class) and why. Everything inside that definition is allowed.
COMPAT = {
    (
        "lcore/connection.py",
        "HTTPConnection.__getitem__",
    ): "request[key] reads the compatibility environ",
    (
        "lcore/connection.py",
        "HTTPConnection.get",
    ): "request.get(key) reads the compatibility environ",
    (
        "lcore/request.py",
        "BaseRequest.__init__",
    ): "BaseRequest(environ), the old constructor, hands the "
    "environ to the WSGI edge (lcore.wsgi_request.init_from_environ)",
    (
        "lcore/app.py",
        "Lcore.wsgi",
    ): "the app is a WSGI callable: the environ goes to the adapter untouched",
    (
        "lcore/app.py",
        "Lcore._asgi_entry",
    ): "the app is an ASGI callable: the scope goes to the adapter untouched",
    (
        "lcore/datastructures.py",
        "WSGIHeaderDict",
    ): "Bottle's WSGIHeaderDict(environ), kept for old code; the core reads RequestHeaders",
    ("lcore/datastructures.py", "_headers_from_environ"): "WSGIHeaderDict's environ reader",
}

#: Every package the concurrency seam covers.
PACKAGES = ("lcore", "lcore_asgi", "lcore_ws")
#: The one module that hops between event loops and threads.
SEAM = "lcore/concurrency.py"
#: The modules the seam is split into (``SEAM`` re-exports their public names).
SEAM_PARTS = {SEAM, "lcore/_loops.py", "lcore/_thread_hop.py"}
#: Modules that may still use asyncio (or a raw anyio hop) themselves, and why.
ASYNCIO_ALLOWED = {
    "lcore/server.py": "the hypercorn adapter runs hypercorn.asyncio.serve under asyncio.run",
    "lcore/reloader.py": "the in-loop reloader polls from an asyncio task (to move behind the seam: #13)",
    "lcore_asgi/server/_fast_stream.py": "the embedded server's asyncio-transport fast path (anyio streams elsewhere)",
    "lcore_asgi/server/serving.py": "Server.run_in_thread starts its own anyio portal (to move behind the seam: #13)",
    "lcore_ws/timers.py": "an idle WebSocket's waits and keepalive timer as a bare future and timer handle (anyio's event and a sleeping task cost ~6 KiB per connection)",
}
#: What counts as using asyncio / a raw hop: modules imported, and attributes reached
#: through ``asyncio.`` or ``anyio.`` (``anyio.from_thread.run``, ``asyncio.get_running_loop``).
RAW_MODULES = ("asyncio", "anyio.from_thread", "anyio.to_thread")
RAW_ANYIO_ATTRS = {"from_thread", "to_thread"}


def _core_modules() -> list[Path]:
    """The protocol-neutral modules: every module of ``lcore`` not in ``EDGE`` (the core
    and the batteries)."""
    mods = []
    for path in sorted(LCORE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel not in EDGE:
            mods.append(path)
    return mods


def _seam_modules() -> list[Path]:
    """Every module of ``PACKAGES`` but the seam itself."""
    return [
        p
        for pkg in PACKAGES
        for p in sorted((ROOT / pkg).rglob("*.py"))
        if p.relative_to(ROOT).as_posix() not in SEAM_PARTS
    ]


def _raw_concurrency(path: Path) -> list[tuple[int, str]]:
    """Where ``path`` imports asyncio / anyio's hops, or reaches them as ``asyncio.x``/``anyio.from_thread``."""
    out = [
        (line, name)
        for line, name in _imported_names(path)
        if any(name == m or name.startswith(m + ".") for m in RAW_MODULES)
        or name in ("anyio.from_thread", "anyio.to_thread")
    ]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "asyncio" or (
                node.value.id == "anyio" and node.attr in RAW_ANYIO_ATTRS
            ):
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
    assert {
        "app.py",
        "dispatch.py",
        "routing.py",
        "request.py",
        "response.py",
        "context.py",
    } <= names


def test_layout_lists_existing_modules_once() -> None:
    listed = CORE_MODULES + EDGE_MODULES
    assert len(set(listed)) == len(listed), "a module is listed twice in lcore/_layout.py"
    for name in listed:
        assert _module_path(name).is_file(), f"lcore/_layout.py lists {name}, which does not exist"
    neutral = {p.relative_to(ROOT).as_posix() for p in _core_modules()}
    assert {_module_path(m).relative_to(ROOT).as_posix() for m in CORE_MODULES} <= neutral


def test_docs_show_the_core_module_list() -> None:
    """docs/concepts.md lists the core modules between ``core-modules`` markers."""
    text = (ROOT / "docs" / "concepts.md").read_text(encoding="utf8")
    m = re.search(r"<!-- core-modules -->(.*?)<!-- /core-modules -->", text, re.S)
    assert m, "docs/concepts.md has no <!-- core-modules --> ... <!-- /core-modules --> list"
    assert tuple(re.findall(r"`(lcore[\w.]*)`", m.group(1))) == CORE_MODULES


def protocol_uses(path: Path) -> list[tuple[int, str, str]]:
    """Where ``path`` names an environ/scope/asyncio/anyio or reads a protocol key:
    ``(line, qualified name of the enclosing definition, what)``. Modules outside the
    tree are read as core modules."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str, str]] = []
    battery = path.is_relative_to(ROOT) and _rel(path) not in CORE_PATHS
    names = BATTERY_NAMES if battery else PROTOCOL_NAMES

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{where}.{child.name}" if where else child.name
            what = None
            if isinstance(child, ast.Name) and child.id in names:
                what = f"name {child.id}"
            elif isinstance(child, ast.arg) and child.arg in names:
                what = f"argument {child.arg}"
            elif (
                isinstance(child, ast.Attribute)
                and child.attr in PROTOCOL_ATTRS
                and not (
                    isinstance(child.value, ast.Name)
                    and child.value.id == "os"  # os.environ is fine
                )
            ):
                what = f"attribute .{child.attr}"
            elif isinstance(child, ast.Constant) and child.value in PROTOCOL_KEYS:
                what = f"key {child.value!r}"
            if what:
                found.append((child.lineno, inner, what))
            visit(child, inner)

    visit(tree, "")
    return found


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def _uncompat(path: Path) -> list[tuple[int, str, str]]:
    rel = _rel(path)
    allowed = [where for (mod, where) in COMPAT if mod == rel]
    return [
        u
        for u in protocol_uses(path)
        if not any(u[1] == w or u[1].startswith(w + ".") for w in allowed)
    ]


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_neutral_module_reads_no_environ_scope_or_loop(path: Path) -> None:
    bad = _uncompat(path)
    assert not bad, (
        f"{_rel(path)} reaches protocol input or an event loop library directly: {bad}; "
        "go through the neutral request (or lcore.concurrency)"
    )


def test_compat_entries_are_still_needed() -> None:
    for (mod, where), reason in COMPAT.items():
        assert reason
        uses = protocol_uses(ROOT / mod)
        assert any(u[1] == where or u[1].startswith(where + ".") for u in uses), (
            f"{mod}:{where} no longer names an environ or scope: take it off COMPAT"
        )


PLANTED = {
    "req.environ": "def f(req):\n    return req.environ.get('x')\n",
    "private environ": "def f(req):\n    return req._environ\n",
    "environ argument": "def app(environ, start_response):\n    pass\n",
    "scope name": "def f(d):\n    scope = d\n    return scope\n",
    "CGI key": "def f(d):\n    return d['PATH_INFO']\n",
    "wsgi.input": "def f(d):\n    return d.get('wsgi.input')\n",
    "ASGI message": "async def f(receive):\n    return (await receive())['type'] == 'http.request'\n",
    "asyncio": "def f():\n    return asyncio.get_running_loop()\n",
    "anyio": "async def f():\n    await anyio.sleep(0)\n",
}


@pytest.mark.parametrize("kind", PLANTED)
def test_the_checker_fails_on_a_planted_violation(tmp_path: Path, kind: str) -> None:
    """A module with one violation makes the neutral-module check fail."""
    probe = tmp_path / "planted.py"
    probe.write_text("import os\n\nHOME = os.environ.get('HOME')\n\n\n" + PLANTED[kind])
    assert protocol_uses(probe)
    with pytest.raises(AssertionError, match="planted.py reaches protocol input"):
        test_neutral_module_reads_no_environ_scope_or_loop(probe)


def test_the_checker_passes_neutral_code(tmp_path: Path) -> None:
    probe = tmp_path / "clean.py"
    probe.write_text(
        "import os\n\n\ndef f(request):\n    kind = 'asgi'\n"
        "    return request.headers.get('Host'), request.path, os.environ.get('HOME'), kind\n"
    )
    assert protocol_uses(probe) == []
    test_neutral_module_reads_no_environ_scope_or_loop(probe)


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_core_module_imports_no_protocol_code(path: Path) -> None:
    asyncio_ok = path.relative_to(ROOT).as_posix() in ASYNCIO_ALLOWED
    bad = [
        (line, name)
        for line, name in _imported_names(path)
        if _forbidden(name)
        and not (asyncio_ok and (name == "asyncio" or name.startswith("asyncio.")))
    ]
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
    assert not raw, (
        f"{rel} uses asyncio / a raw anyio hop {raw}; go through lcore.concurrency "
        f"(or list it in ASYNCIO_ALLOWED with the reason)"
    )


def test_the_seam_checker_catches_asyncio(tmp_path: Path) -> None:
    # Probes outside the tree are read as modules of lcore.
    for text in (
        "import asyncio\n",
        "from asyncio import Queue\n",
        "import anyio.from_thread\n",
        "import anyio\ndef f():\n    return anyio.to_thread.run_sync\n",
        "def f(asyncio):\n    return asyncio.get_running_loop()\n",
    ):
        probe = tmp_path / "probe.py"
        probe.write_text(text)
        assert _raw_concurrency(probe), text
        assert any(_forbidden(name) for _, name in _imported_names(probe)) or "asyncio." in text, (
            text
        )
    probe.write_text("import anyio\nfrom redis import asyncio as aioredis\nanyio.sleep\n")
    assert not _raw_concurrency(probe)


def test_allowed_asyncio_modules_exist() -> None:
    assert all((ROOT / rel).is_file() for rel in ASYNCIO_ALLOWED), ASYNCIO_ALLOWED
    assert SEAM not in ASYNCIO_ALLOWED and (ROOT / SEAM).is_file()


#: Request, ctx and dispatch internals: lcore_ws reaches the core through public seams
#: instead (``describe_scope``, ``BaseRequest(**description)``, ``HTTPConnection``,
#: ``dispatch.new_context``/``run_route``, ``app.mounts``, ``context.current_context``).
CORE_INTERNALS = frozenset(
    (
        "_src",
        "_source",
        "_may_body",
        "_body_needed",
        "_cache",
        "_environ",
        "_raw_headers",
        "_path",
        "_client",
        "_mounts",
        "_new_ctx",
        "_teardown_async",
        "_current",
        "_scope",
        "_receive_body",
    )
)


def core_internals_used(path: Path) -> list[tuple[int, str]]:
    """Where ``path`` reads a core internal as an attribute or imports one from lcore."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr in CORE_INTERNALS:
            if not (isinstance(node.value, ast.Name) and node.value.id == "self"):
                out.append((node.lineno, node.attr))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lcore"):
            out += [
                (node.lineno, a.name)
                for a in node.names
                if a.name in CORE_INTERNALS or a.name == "_EMPTY_BODY"
            ]
    return out


@pytest.mark.parametrize(
    "path", sorted((ROOT / "lcore_ws").rglob("*.py")), ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_lcore_ws_uses_public_seams_of_the_core(path: Path) -> None:
    assert not core_internals_used(path), (
        f"{_rel(path)} reaches core internals: {core_internals_used(path)}"
    )


def test_the_internals_checker_catches_private_access(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from lcore.request import _EMPTY_BODY\nfrom lcore.context import _current\n"
        "def f(req, app):\n    req._src = None\n    return app._mounts\n"
    )
    assert [n for _, n in core_internals_used(probe)] == [
        "_EMPTY_BODY",
        "_current",
        "_src",
        "_mounts",
    ]


def test_import_lcore_loads_no_optional_dependency() -> None:
    code = (
        "import sys, lcore; "
        "print(','.join(m for m in ('httpx','jinja2','redis','websockets','h11','h2','mako') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"import lcore imported: {out}"
