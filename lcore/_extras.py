"""Optional packages: one place that imports them and names the extra that installs each.

lcore imports an optional package (httpx, redis, websockets, brotli, watchfiles, jinja2,
mako) only where a feature needs it, through :func:`require`. When the package is
missing the user sees what to type, not a bare ``No module named 'redis'``::

    RedisRateLimitBackend needs the 'redis' package: pip install "lcore[redis]"
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = [
    "EXTRAS",
    "MissingExtraError",
    "available",
    "install_hint",
    "require",
    "require_installed",
]

#: Optional package (its import name) -> the lcore extra that installs it (None: no
#: extra; the hint names the package itself).
EXTRAS: dict[str, str | None] = {
    "httpx": "client",
    "redis": "redis",
    "websockets": "ws",
    "brotli": "compression",
    "watchfiles": "reload",
    "jinja2": "templates",
    "prometheus_client": "metrics",
    "mako": None,
    "Cheetah": None,
}

#: Import name -> distribution name, where they differ.
_DISTRIBUTIONS = {"Cheetah": "cheetah3"}


class MissingExtraError(ModuleNotFoundError):
    """An optional package a feature needs is not installed; the message says what to install.

    A :class:`ModuleNotFoundError` (so an ``ImportError``): ``except ImportError`` keeps
    working, and ``name`` is the missing package's import name.
    """


def install_hint(package: str, extra: str | None = None) -> str:
    """The command that installs ``package``: ``pip install "lcore[extra]"`` or ``pip install pkg``."""
    if extra is None:
        extra = EXTRAS.get(package)
    if extra:
        return f'pip install "lcore[{extra}]"'
    return f"pip install {_DISTRIBUTIONS.get(package, package)}"


def missing(package: str, extra: str | None, feature: str) -> MissingExtraError:
    """The error to raise when ``feature`` needs ``package`` and it is not installed."""
    top = package.partition(".")[0]
    return MissingExtraError(
        f"{feature} needs the {top!r} package: {install_hint(top, extra)}", name=top
    )


def require(module: str, extra: str | None, feature: str) -> ModuleType:
    """Import and return ``module``; raise :class:`MissingExtraError` naming ``extra`` if absent.

    ``feature`` is what the user was doing, in their words (``'TestClient'``,
    ``'RedisRateLimitBackend'``). An ImportError raised *inside* an installed package
    (a broken dependency of its own) propagates unchanged: reinstalling lcore's extra
    would not fix it.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.partition(".")[0]
        if exc.name is None or exc.name == top or exc.name.startswith(top + "."):
            raise missing(module, extra, feature) from None
        raise


def require_installed(module: str, extra: str | None, feature: str) -> None:
    """Like :func:`require`, but only check that ``module`` is installed, without importing it.

    For a constructor that should fail at once while the import itself waits for first use.
    """
    if not available(module):
        raise missing(module, extra, feature)


def available(module: str) -> bool:
    """Whether ``module`` can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or sys.modules[name] = None
        return False
