"""Command line of lcore.

- ``python -m lcore [options] APP`` serves an app (``mod``, ``mod.py``, ``mod:app``,
  ``pkg.mod:attr`` or ``mod:factory()``);
- ``python -m lcore routes APP`` lists its routes, ``python -m lcore check APP`` looks
  for problems (see :mod:`lcore.commands`);
- ``python -m lcore [options] APP COMMAND [args]`` runs a command the app registered
  with ``@app.command()``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from ._cli import LOG_LEVELS, base_parser, check_certificate, startup_errors
from ._loader import load_app as _load_app

__all__ = ["main", "build_parser", "load_app"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m lcore``."""
    p = base_parser("python -m lcore", "Serve an lcore application.", port=8080, app_required=False)
    p.set_defaults(workers=None)  # the adapter's own default
    p.add_argument("--version", action="store_true", help="show the lcore version and exit")
    p.add_argument(
        "-b",
        "--bind",
        metavar="ADDRESS",
        help="bind socket to ADDRESS (host:port or :port); wins over --host/--port",
    )
    p.add_argument(
        "-s", "--server", default=None, help="server adapter (default: lcore's embedded server)"
    )
    p.add_argument(
        "-p", "--plugin", action="append", default=[], help="install a plugin (module:attr)"
    )
    p.add_argument(
        "-c",
        "--conf",
        action="append",
        default=[],
        metavar="FILE",
        help="load a config file (.ini or .json)",
    )
    p.add_argument(
        "-C",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a config value",
    )
    p.add_argument(
        "--debug", action="store_true", help="debug mode (tracebacks on error pages, /docs)"
    )
    p.add_argument("--certfile", help="TLS certificate (PEM), for the embedded server")
    p.add_argument("--keyfile", help="TLS private key (PEM)")
    p.add_argument(
        "--docs", action="store_true", help="print where the documentation lives and exit"
    )
    return p


def load_app(spec: str) -> Any:
    """Import an app from ``mod``, ``mod.py``, ``mod:attr``, ``pkg.mod:attr`` or ``mod:factory()``.

    Without ``:attr`` the module's ``app`` (or ``application``) is used; a module that
    only registers routes on the default app (``from lcore import route``) serves that.
    Raises :class:`lcore._loader.AppLoadError` (an ImportError and a ValueError).
    """
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


def _split_command(
    parser: argparse.ArgumentParser, argv: Sequence[str]
) -> tuple[list[str], str, list[str]] | None:
    """``(serve options up to APP, COMMAND, its args)`` when ``argv`` names a command after APP."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            return None
        if token.startswith("-") and token != "-":
            action = parser._option_string_actions.get(token.partition("=")[0])
            takes_value = action is not None and action.nargs != 0 and "=" not in token
            i += 2 if takes_value else 1
            continue
        if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            return list(argv[: i + 1]), argv[i + 1], list(argv[i + 2 :])
        return None
    return None


def _builtin_command(name: str, argv: list[str]) -> None:
    """``python -m lcore routes|check APP [options]``."""
    from . import commands

    p = argparse.ArgumentParser(prog=f"python -m lcore {name}", add_help=False)
    p.add_argument("app", nargs="?")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("--log-level", default="info", choices=LOG_LEVELS)
    known, rest = p.parse_known_args(argv)
    runner = commands.routes_main if name == "routes" else commands.check_main
    if known.help or not known.app:
        rest = ["--help"]  # the command's own parser prints its usage
    with startup_errors(debug=known.log_level == "debug"):
        app = None
        if known.app:
            why = f"'{name}' reads an Lcore() app's routes"
            app = _load_app(known.app, protocol="lcore", default_app_fallback=True, why=why)
        sys.exit(runner(app, known.app or "APP", rest))


def _app_command(
    parser: argparse.ArgumentParser, argv: list[str], name: str, rest: list[str]
) -> None:
    """``python -m lcore [options] APP COMMAND [args]``: run one of the app's commands."""
    from .commands import run_command

    args = parser.parse_args(argv)
    logging.getLogger("lcore").setLevel(args.log_level.upper())
    with startup_errors(debug=args.log_level == "debug"):
        why = "commands are registered on an Lcore() app with @app.command()"
        app = _load_app(args.app, protocol="lcore", default_app_fallback=True, why=why)
        _configure(parser, args, app)
    sys.exit(run_command(app, args.app, name, rest))


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m lcore``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] in ("routes", "check"):
        _builtin_command(argv[0], argv[1:])
        return
    parser = build_parser()
    split = _split_command(parser, argv)
    if split is not None:
        _app_command(parser, *split)
        return
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

    check_certificate(args.certfile, args.keyfile)
    app = load_app(args.app)
    _configure(parser, args, app)
    tls = {k: v for k, v in (("certfile", args.certfile), ("keyfile", args.keyfile)) if v}
    try:
        _server.run(
            app,
            server=args.server,
            host=host,
            port=port,
            debug=True if args.debug else None,
            reloader=args.reload,
            workers=args.workers,
            **tls,
        )
    except ValueError as e:  # an unknown server name
        raise SystemExit(f"error: {e}") from None


def _configure(parser: argparse.ArgumentParser, args: argparse.Namespace, app: Any) -> None:
    """Apply ``-c`` config files, ``-C`` values and ``-p`` plugins to ``app``."""
    from ._utils import load

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


if __name__ == "__main__":  # pragma: no cover
    main()
