"""Command line: ``python -m lcore [options] app`` serves an app (``mod``, ``mod.py``,
``mod:app`` or ``pkg.mod:attr``)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from ._cli import base_parser, check_certificate, startup_errors

__all__ = ["main", "build_parser", "load_app"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m lcore``."""
    p = base_parser("python -m lcore", "Serve an lcore application.", port=8080, app_required=False)
    p.set_defaults(workers=None)  # the adapter's own default
    p.add_argument("--version", action="store_true", help="show the lcore version and exit")
    p.add_argument("-b", "--bind", metavar="ADDRESS", help="bind socket to ADDRESS (host:port or :port); wins over --host/--port")
    p.add_argument("-s", "--server", default=None, help="server adapter (default: lcore's embedded server)")
    p.add_argument("-p", "--plugin", action="append", default=[], help="install a plugin (module:attr)")
    p.add_argument("-c", "--conf", action="append", default=[], metavar="FILE", help="load a config file (.ini or .json)")
    p.add_argument("-C", "--param", action="append", default=[], metavar="NAME=VALUE", help="override a config value")
    p.add_argument("--debug", action="store_true", help="debug mode (tracebacks on error pages, /docs)")
    p.add_argument("--certfile", help="TLS certificate (PEM), for the embedded server")
    p.add_argument("--keyfile", help="TLS private key (PEM)")
    p.add_argument("--docs", action="store_true", help="print where the documentation lives and exit")
    return p


def load_app(spec: str) -> Any:
    """Import an app from ``mod``, ``mod.py``, ``mod:attr``, ``pkg.mod:attr`` or ``mod:factory()``.

    Without ``:attr`` the module's ``app`` (or ``application``) is used; a module that
    only registers routes on the default app (``from lcore import route``) serves that.
    Raises :class:`lcore._loader.AppLoadError` (an ImportError and a ValueError).
    """
    from ._loader import load_app as _load_app

    return _load_app(spec, default_app_fallback=True)


def _parse_bind(bind: str | None) -> tuple[str, int]:
    """``host:port``, ``:port`` or ``host`` (port 8080); 127.0.0.1:8080 when not given."""
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


def _monkey_patch(server: str | None) -> None:
    # gevent and eventlet must patch the stdlib before the app imports it.
    if server and server.startswith("gevent"):
        import gevent.monkey

        gevent.monkey.patch_all()
    elif server and server.startswith("eventlet"):
        import eventlet

        eventlet.monkey_patch()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m lcore``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return
    if args.docs:
        print("Documentation: docs/ in the lcore source tree (getting-started.md first).")
        return
    if not args.app:
        parser.error("no application given (e.g. python -m lcore myapp:app)")
    host, port = _parse_bind(args.bind) if args.bind else (args.host, args.port)
    # The level of lcore's logger; at debug, app.run() prints start-up tracebacks too.
    logging.getLogger("lcore").setLevel(args.log_level.upper())
    with startup_errors(debug=args.log_level == "debug", host=host, port=port):
        _serve(parser, args, host, port)


def _serve(parser: argparse.ArgumentParser, args: argparse.Namespace, host: str, port: int) -> None:
    _monkey_patch(args.server)
    from . import server as _server
    from ._utils import load

    check_certificate(args.certfile, args.keyfile)
    app = load_app(args.app)
    config = getattr(app, "config", None)
    try:
        for conf in args.conf:
            if config is None:
                parser.error("-c needs an lcore app (this one has no config)")
            if conf.endswith(".json"):
                config.load_json(conf)
            else:
                config.load_config(conf)
    except (OSError, ValueError) as e:
        raise SystemExit(f"error: cannot load config: {e}") from None
    for param in args.param:
        if config is None:
            parser.error("-C needs an lcore app (this one has no config)")
        key, sep, value = param.partition("=")
        # ``-C name`` alone sets True, as Lcore's CLI did.
        config[key.strip()] = value if sep else True
    for plugin in args.plugin:
        try:
            target = load(plugin)
        except (ImportError, AttributeError, ValueError) as e:
            raise SystemExit(f"error: cannot load plugin {plugin!r}: {e}") from None
        if isinstance(target, type):
            target = target()
        if not hasattr(app, "install"):
            parser.error("-p needs an lcore app")
        app.install(target)
    tls = {k: v for k, v in (("certfile", args.certfile), ("keyfile", args.keyfile)) if v}
    try:
        _server.run(app, server=args.server, host=host, port=port, debug=True if args.debug else None,
                    reloader=args.reload, workers=args.workers, **tls)
    except ValueError as e:  # an unknown server name
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":  # pragma: no cover
    main()
