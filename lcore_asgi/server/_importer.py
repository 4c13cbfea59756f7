"""Resolve an application spec such as ``pkg.mod:attr`` or ``app.py`` to an object."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

__all__ = ["AppImportError", "import_app"]


class AppImportError(ImportError):
    """The application spec could not be resolved; the message says what to fix."""


def import_app(spec: str, default_attr: str = "app") -> Any:
    """Import ``spec`` (``mod``, ``mod:attr``, ``mod.py``, ``pkg.mod:attr``) and return the app."""
    module_part, _, attr = spec.partition(":")
    attr = attr or default_attr
    if not module_part:
        raise AppImportError(f"invalid app spec {spec!r}: expected 'module:attribute'")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    if module_part.endswith(".py"):
        module = _import_file(module_part, spec)
    else:
        try:
            module = importlib.import_module(module_part)
        except ModuleNotFoundError as exc:
            if exc.name and module_part.startswith(exc.name):
                raise AppImportError(
                    f"could not import module {module_part!r} for app spec {spec!r} "
                    f"(run from the directory containing it, or check the spelling)"
                ) from exc
            raise
    obj: Any = module
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise AppImportError(
            f"module {module.__name__!r} has no attribute {attr!r} (from app spec {spec!r})"
        ) from None
    return obj


def _import_file(path: str, spec: str) -> Any:
    if not os.path.isfile(path):
        raise AppImportError(f"file {path!r} not found (from app spec {spec!r})")
    name = os.path.splitext(os.path.basename(path))[0]
    directory = os.path.dirname(os.path.abspath(path))
    loaded = sys.modules.get(name)
    if loaded is not None and os.path.abspath(getattr(loaded, "__file__", "") or "") == (
        os.path.abspath(path)
    ):
        return loaded
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise AppImportError(f"cannot load {path!r} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module
