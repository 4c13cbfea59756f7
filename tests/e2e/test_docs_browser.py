"""The /docs page in a real browser: headless Debian chromium renders every route offline.

The app (``apps/docs_app.py``) runs on lcore's embedded server (ASGI) and on gunicorn
(WSGI); chromium dumps the DOM after scripts ran and saves a screenshot in the test's
tmp dir (its path is printed). Chromium gets no network besides 127.0.0.1, so the page
proves it needs no CDN. Skipped only when chromium cannot be installed.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from .servers import serve

pytestmark = pytest.mark.e2e

SPEC = "docs_app:app"
CHROMIUM = "/usr/bin/chromium"


def _chromium() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True, timeout=600)
    if not os.path.exists(CHROMIUM):
        pytest.skip(
            "chromium is not installed and could not be installed (apt-get install -y chromium)"
        )
    return CHROMIUM


def _chromium_args(profile: Path) -> list[str]:
    return [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        # Everything but 127.0.0.1 is unreachable: a CDN reference could not load.
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1",
    ]


def _run_chromium(args: list[str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.parametrize("kind", ["lcore", "gunicorn-sync"])
def test_docs_page_renders_every_route(tmp_path: Path, kind: str) -> None:
    with serve(kind, SPEC, tmp_path) as srv:
        docs = httpx.get(srv.url + "/docs/json", timeout=10).json()
        expected = [(r["method"], r["rule"]) for r in docs["routes"]]
        assert len(expected) == 7
        url = srv.url + "/docs"

        dom = _run_chromium(_chromium_args(tmp_path / "profile-dom") + ["--dump-dom", url]).stdout
        shot = tmp_path / "docs.png"
        _run_chromium(
            _chromium_args(tmp_path / "profile-shot")
            + [f"--screenshot={shot}", "--window-size=1200,1600", url]
        )

    assert "<title>Shop API</title>" in dom
    found = [
        (m, html.unescape(r))
        for m, r in re.findall(
            r'<article class="route" data-method="(\w+)" data-rule="([^"]+)"', dom
        )
    ]
    assert found == expected
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        assert f'<span class="m {method}">{method}</span>' in dom
    assert (
        "Retrieve an item by its ID." in dom
        and "Returns the full item object including metadata." in dom
    )
    assert (
        "<td><code>page</code></td><td>query</td><td><code>int</code></td><td><code>1</code></td>"
        in dom
    )
    assert "Returns <code>list</code>" in dom
    assert '<span class="async">async</span>' in dom
    assert 'id="filter"' in dom and '<span id="count">7</span>' in dom
    assert not re.search(r'(src|href)="(https?:)?//', dom)  # nothing off-host

    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank frame
    print(f"\n[{kind}] /docs screenshot: {shot}")


def test_docs_filter_script_in_browser(tmp_path: Path) -> None:
    """The inline filter hides routes that do not match (driven through Playwright)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with serve("lcore", SPEC, tmp_path) as srv, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.goto(srv.url + "/docs")
            assert page.locator("article.route:visible").count() == 7
            page.fill("#filter", "items")
            assert page.locator("article.route:visible").count() == 5
            assert page.text_content("#count") == "5 of 7"
            page.uncheck("input[value=DELETE]")
            assert page.locator("article.route:visible").count() == 4
            page.fill("#filter", "no such route")
            assert page.locator("#none").is_visible()
            page.screenshot(path=str(tmp_path / "docs-filtered.png"))
        finally:
            browser.close()
