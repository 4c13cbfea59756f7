"""Headless Chromium for browser tests: Debian's ``chromium``, driven by Playwright.

The system browser is used (never ``playwright install``). ``launch_chromium()`` skips
the test when the browser or Playwright is missing; ``browser`` is a module fixture
made with it, which a test module or ``conftest.py`` imports.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "launch_chromium", "browser"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """A launched Playwright ``Browser`` on the system Chromium, closed when the block ends."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install playwright"
    )
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the test module (skips when it cannot run)."""
    with launch_chromium() as b:
        yield b
