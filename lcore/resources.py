"""ResourceManager: find files (templates, data) in a list of search paths."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["ResourceManager"]


class ResourceManager:
    """Search paths for application files; ``lookup(name)`` finds the first match."""

    def __init__(self, base: str = "./", opener: Any = open, cachemode: str = "all") -> None:
        self.opener = opener
        self.base = base
        self.cachemode = cachemode
        self.path: list[str] = []
        self.cache: dict[str, str | None] = {}

    def add_path(
        self, path: str, base: str | None = None, index: int | None = None, create: bool = False
    ) -> bool:
        """Add a directory to the search path; True if it exists."""
        base = os.path.abspath(os.path.dirname(base or self.base))
        path = os.path.abspath(
            os.path.join(
                base,
                os.path.dirname(path)
                if not path.endswith(os.sep) and not os.path.isdir(os.path.join(base, path))
                else path,
            )
        )
        path += os.sep
        if path in self.path:
            self.path.remove(path)
        if create and not os.path.isdir(path):
            os.makedirs(path)
        if index is None:
            self.path.append(path)
        else:
            self.path.insert(index, path)
        self.cache.clear()
        return os.path.exists(path)

    def __iter__(self) -> Any:
        search = self.path[:]
        while search:
            path = search.pop()
            if not os.path.isdir(path):
                continue
            for name in os.listdir(path):
                full = os.path.join(path, name)
                if os.path.isdir(full):
                    search.append(full)
                else:
                    yield full

    def lookup(self, name: str) -> str | None:
        """Return the absolute path of ``name`` in the search path, or None.

        Names that would resolve outside a search directory are refused.
        """
        if name not in self.cache or os.environ.get("LCORE_DEBUG"):
            found = None
            for path in self.path:
                fpath = os.path.realpath(os.path.join(path, name))
                if not fpath.startswith(os.path.realpath(path)):
                    continue
                if os.path.isfile(fpath):
                    found = fpath
                    break
            if self.cachemode in ("all", "found") and (found or self.cachemode == "all"):
                self.cache[name] = found
            return found
        return self.cache[name]

    def open(self, name: str, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        """Open a resource found by :meth:`lookup` (IOError if missing)."""
        fname = self.lookup(name)
        if not fname:
            raise OSError(f"Resource {name!r} not found.")
        return self.opener(fname, mode, *args, **kwargs)
