"""Resolve an application spec such as ``pkg.mod:attr`` or ``app.py`` (lcore's loader)."""

from __future__ import annotations

from typing import Any

from lcore._loader import AppLoadError, resolve_app

__all__ = ["AppImportError", "import_app"]

#: The embedded server's name for :class:`lcore._loader.AppLoadError` (an ImportError).
AppImportError = AppLoadError


def import_app(spec: str) -> Any:
    """Import ``spec`` (``mod``, ``mod:attr``, ``mod.py``, ``mod:factory()``) and return it."""
    return resolve_app(spec)
