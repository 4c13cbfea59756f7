"""The docs site: every python example runs, every page is in the nav, every public name
has a reference entry, and the site builds with ``mkdocs build --strict``.

How an example block is run: each fenced python block of every page under docs/ runs on
its own, in a fresh namespace, in a temporary working directory. A block may instead
continue the one before it on the same page, when the line above it (blank lines aside) is

    <!-- docs-test: continue -->

and then runs in that block's namespace (the chain is one test, named after its first
block). A block that cannot run here says why on that line:

    <!-- docs-test: skip needs a real Redis server at redis://localhost:6379 -->

In tutorial-taskflow.md, a block introduced by a `path`: line is an excerpt of the
TaskFlow source; tests/taskflow/test_tutorial.py checks it appears there verbatim.
Both markers are HTML comments, so the built site does not show them.
"""

from __future__ import annotations

import importlib
import linecache
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
_MARKER = re.compile(r"<!--\s*docs-test:\s*(continue|skip)\b\s*(.*?)\s*-->")
_EXCERPT_LABEL = re.compile(r"^`(?:examples/taskflow|tests/taskflow)/[^`]+`:$")


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def _line_before(text: str, pos: int) -> str:
    for line in reversed(text[:pos].splitlines()):
        if line.strip():
            return line.strip()
    return ""


def _chains():
    """(page, first line, [(line, code), ...]) for each runnable chain of blocks."""
    for page in _pages():
        text = page.read_text(encoding="utf8")
        rel = page.relative_to(DOCS).as_posix()
        chain: list[tuple[int, str]] | None = None
        for m in _BLOCK.finditer(text):
            line_no = text.count("\n", 0, m.start()) + 1
            before = _line_before(text, m.start())
            marker = _MARKER.search(before)
            if rel == "tutorial-taskflow.md" and _EXCERPT_LABEL.match(before):
                continue  # an excerpt of TaskFlow's source: tests/taskflow/test_tutorial.py
            if marker and marker.group(1) == "skip":
                assert marker.group(2), f"{rel}:{line_no}: a skipped block must say why"
                continue
            if marker and marker.group(1) == "continue":
                assert chain is not None, f"{rel}:{line_no}: continues, but no block runs before it"
                chain.append((line_no, m.group(1)))
                continue
            if chain:
                yield rel, chain
            chain = [(line_no, m.group(1))]
        if chain:
            yield rel, chain


def _chain_params():
    return [pytest.param(rel, chain, id=f"{rel}:{chain[0][0]}") for rel, chain in _chains()]


@pytest.mark.parametrize(("page", "chain"), _chain_params())
def test_doc_example_runs(
    page: str, chain: list[tuple[int, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # A real module, so that dataclasses, pickle and typing find the example's classes.
    module = types.ModuleType("docs_example")
    monkeypatch.setitem(sys.modules, "docs_example", module)
    namespace = module.__dict__
    try:
        for line_no, code in chain:
            filename = f"docs/{page}:{line_no}"
            # Tracebacks then show the failing line of the example, not "???".
            linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
            exec(compile(code, filename, "exec"), namespace)
    finally:
        for value in list(namespace.values()):  # close clients and apps the block left open
            if type(value).__name__ == "TestClient":
                value.close()


def test_markers_are_understood() -> None:
    """The splitter itself: a continued block joins its chain, a skipped one is left out."""
    sample = (
        "```python\na = 1\n```\n\n<!-- docs-test: continue -->\n```python\nb = a\n```\n"
        "<!-- docs-test: skip needs redis -->\n\n```python\nraise SystemExit\n```\n"
        "```python\nc = 3\n```\n"
    )
    blocks = [
        (_MARKER.search(_line_before(sample, m.start())), m.group(1))
        for m in _BLOCK.finditer(sample)
    ]
    kinds = [mk.group(1) if mk else None for mk, _ in blocks]
    assert kinds == [None, "continue", "skip", None]
    assert blocks[2][0].group(2) == "needs redis"


def test_docs_have_examples() -> None:
    chains = list(_chains())
    pages = {rel for rel, _ in chains}
    for page in (
        "getting-started.md",
        "routing.md",
        "requests.md",
        "responses.md",
        "templates.md",
        "cookies.md",
        "config.md",
        "testing.md",
        "openapi.md",
    ):
        assert page in pages, f"{page} lost its examples"
    assert sum(len(chain) for _, chain in chains) >= 60


def _nav_files(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [f for v in node.values() for f in _nav_files(v)]
    if isinstance(node, list):
        return [f for v in node for f in _nav_files(v)]
    return []


def _mkdocs_config() -> dict:
    yaml = pytest.importorskip("yaml")

    class Loader(yaml.SafeLoader):  # mkdocs.yml may use !!python/name tags; none needed here
        pass

    return yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)


def test_every_page_is_in_the_nav() -> None:
    nav = set(_nav_files(_mkdocs_config()["nav"]))
    pages = {p.relative_to(DOCS).as_posix() for p in _pages()}
    assert pages - nav == set(), "pages missing from mkdocs.yml's nav"
    assert nav - pages == set(), "nav entries with no page"


def test_reference_covers_every_public_name() -> None:
    griffe = pytest.importorskip("griffe")
    loader = griffe.GriffeLoader(search_paths=[str(ROOT)])
    documented: set[str] = set()
    for page in (DOCS / "reference").glob("*.md"):
        for target in re.findall(r"^::: ([\w.]+)\s*$", page.read_text(), flags=re.M):
            documented.add(target.rsplit(".", 1)[-1])
            package, _, rest = target.partition(".")
            module = (
                loader.modules_collection[package]
                if package in loader.modules_collection
                else loader.load(package)
            )
            obj = module[rest]
            # `::: lcore.request` would render the module lcore/request.py, not the proxy.
            assert not (obj.final_target if obj.is_alias else obj).is_module, (
                f"{page.name}: '::: {target}' renders a whole module; name the object where it is defined"
            )
    for package in ("lcore", "lcore_asgi", "lcore_ws"):
        names = set(importlib.import_module(package).__all__)
        assert names - documented == set(), f"{package}: public names with no reference entry"


@pytest.mark.e2e
def test_site_builds_strict_and_renders_the_reference(tmp_path: Path) -> None:
    """``mkdocs build --strict`` succeeds; the built site, served by a plain static server,
    shows the API reference entry of ``Lcore.route`` in headless Chromium (screenshot in
    the test's tmp dir)."""
    import os
    import socket
    import subprocess
    import time

    from browser import launch_chromium

    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "WARNING" not in log, log[-4000:]
    built = [line for line in log.splitlines() if "Documentation built in" in line]
    assert built, log[-2000:]
    for page in _nav_files(_mkdocs_config()["nav"]):
        html = site / (page[: -len(".md")].removesuffix("index") + "/index.html").lstrip("/")
        assert html.is_file(), f"{page} was not built ({html})"
    reference = (site / "reference" / "request-response" / "index.html").read_text()
    assert ":class:" not in reference and "<code>~" not in reference, (
        "Sphinx roles left in the HTML"
    )
    print(f"\n{built[-1].strip()}")

    with launch_chromium() as browser:  # skips when Chromium or Playwright is missing
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                str(port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(site),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the static server did not start"
                    time.sleep(0.1)
            shot = tmp_path / "reference-lcore-route.png"
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            failed: list[str] = []
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(f"http://127.0.0.1:{port}/reference/app/#lcore.Lcore.route")
            heading = page.locator('[id="lcore.Lcore.route"]')
            heading.wait_for(state="visible", timeout=15_000)
            assert "route" in heading.inner_text()
            entry = heading.locator("xpath=..").inner_text()  # heading, signature, docstring
            assert "Register a handler for a URL rule" in entry, entry[:500]
            assert "callback: Callable" in entry and "method: str | list[str]" in entry, entry[:500]
            box = heading.bounding_box()
            assert box is not None and 0 <= box["y"] < 900, f"not scrolled to the entry: {box}"
            page.screenshot(path=str(shot))
            assert not [u for u in failed if u.startswith(f"http://127.0.0.1:{port}")], failed
            assert shot.stat().st_size > 10_000
            print(f"screenshot of the Lcore.route reference: {shot}")
        finally:
            server.terminate()
            server.wait(timeout=10)
