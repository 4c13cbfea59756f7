"""Command line: ``python -m lcore [options] app`` serves an app (``mod``, ``mod.py``,
``mod:app`` or ``pkg.mod:attr``)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["main", "build_parser", "load_app"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m lcore``."""
    p = argparse.ArgumentParser(prog="python -m lcore", description="Serve an lcore application.")
    p.add_argument("--version", action="store_true", help="show the lcore version and exit")
    p.add_argument("-b", "--bind", metavar="ADDRESS", help="bind socket to ADDRESS (host:port or :port)")
    p.add_argument("-s", "--server", default=None, help="server adapter (default: lcore's embedded server)")
    p.add_argument("-p", "--plugin", action="append", default=[], help="install a plugin (module:attr)")
    p.add_argument("-c", "--conf", action="append", default=[], metavar="FILE", help="load a config file (.ini or .json)")
    p.add_argument("-C", "--param", action="append", default=[], metavar="NAME=VALUE", help="override a config value")
    p.add_argument("--debug", action="store_true", help="debug mode (tracebacks on error pages, /docs)")
    p.add_argument("--reload", action="store_true", help="restart the server when a module changes")
    p.add_argument("--workers", type=int, default=None, help="worker processes (servers that support it)")
    p.add_argument("--docs", action="store_true", help="print where the documentation lives and exit")
    p.add_argument("app", nargs="?", help="the app: mod, mod.py, mod:app or pkg.mod:attr")
    return p


def load_app(spec: str) -> Any:
    """Import an app from ``mod``, ``mod.py``, ``mod:attr`` or ``pkg.mod:attr`` (default ``app``)."""
    from ._utils import load

    if spec.endswith(".py") and ":" not in spec:
        path = os.path.abspath(spec)
        sys.path.insert(0, os.path.dirname(path))
        spec = os.path.splitext(os.path.basename(path))[0]
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module, _, attr = spec.partition(":")
    target = load(f"{module}:{attr or 'app'}") if attr or True else None
    if not callable(target):
        raise SystemExit(f"error: {spec!r} is not an application")
    return target


def _parse_bind(bind: str | None) -> tuple[str, int]:
    if not bind:
        return "127.0.0.1", 8080
    host, _, port = bind.rpartition(":")
    if not host and not _:
        return bind, 8080
    host = host.strip("[]") or "127.0.0.1"
    try:
        return host, int(port)
    except ValueError:
        raise SystemExit(f"error: invalid bind address {bind!r} (expected host:port)") from None


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m lcore``."""
    import lcore

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(f"lcore {lcore.__version__}")
        return
    if args.docs:
        print("Documentation: docs/ in the lcore source tree (getting-started.md first).")
        return
    if not args.app:
        parser.error("no application given (e.g. python -m lcore myapp:app)")
    try:
        app = load_app(args.app)
    except (ImportError, AttributeError, ValueError) as e:
        raise SystemExit(f"error: cannot load {args.app!r}: {e}") from None
    config = getattr(app, "config", None)
    for conf in args.conf:
        if config is None:
            break
        if conf.endswith(".json"):
            config.load_json(conf)
        else:
            config.load_config(conf)
    for param in args.param:
        key, sep, value = param.partition("=")
        if not sep:
            parser.error(f"-C expects NAME=VALUE, got {param!r}")
        if config is not None:
            config[key.strip()] = value
    for plugin in args.plugin:
        target = lcore.load(plugin if ":" in plugin else plugin)
        app.install(target() if isinstance(target, type) else target)
    host, port = _parse_bind(args.bind)
    lcore.run(app, server=args.server, host=host, port=port, debug=args.debug or None,
              reloader=args.reload, workers=args.workers)


if __name__ == "__main__":  # pragma: no cover
    main()
