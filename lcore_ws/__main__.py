"""``python -m lcore_ws myapp:app --port 8081``: the side-by-side WebSocket server.

Run it next to the WSGI server that serves the app's HTTP routes (``gunicorn myapp:app``);
it serves the same app's ``@app.websocket`` routes.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .protocol import WebSocketOptions


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m lcore_ws``."""
    d = WebSocketOptions()
    p = argparse.ArgumentParser(
        prog="python -m lcore_ws",
        description="Serve an Lcore app's WebSocket routes beside its WSGI server.",
    )
    p.add_argument("app", help="the app: module, module:attr, pkg.mod:attr or file.py")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--workers", type=int, default=1, help="pre-forked worker processes")
    p.add_argument("--certfile", help="TLS certificate (PEM): serve wss://")
    p.add_argument("--keyfile", help="TLS private key (PEM)")
    p.add_argument("--root-path", default="")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--max-size", type=int, default=d.max_size, help="largest message in bytes (0: no limit)")
    p.add_argument("--max-queue", type=int, default=d.max_queue)
    p.add_argument("--ping-interval", type=float, default=d.ping_interval, help="0 disables pings")
    p.add_argument("--ping-timeout", type=float, default=d.ping_timeout)
    p.add_argument("--idle-timeout", type=float, default=0.0, help="0 (default) disables it")
    p.add_argument("--no-compression", dest="compression", action="store_false")
    p.add_argument("--timeout-graceful-shutdown", type=float, default=10.0)
    return p


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` and serve until interrupted."""
    args = build_parser().parse_args(argv)
    options = WebSocketOptions(
        max_size=args.max_size or None,
        max_queue=args.max_queue,
        ping_interval=args.ping_interval or None,
        ping_timeout=args.ping_timeout or None,
        idle_timeout=args.idle_timeout or None,
        compression=args.compression,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(message)s"))
    for name in ("lcore.ws", "lcore_asgi.error"):
        logger = logging.getLogger(name)
        logger.setLevel(args.log_level.upper())
        logger.addHandler(handler)
        logger.propagate = False
    from lcore_asgi.server._importer import AppImportError, import_app

    from .server import serve

    try:
        app = import_app(args.app)
    except AppImportError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(2)
    try:
        serve(app, args.host, args.port, options=options, workers=args.workers,
              certfile=args.certfile, keyfile=args.keyfile, root_path=args.root_path,
              log_level=args.log_level, access_log=False,
              timeout_graceful_shutdown=args.timeout_graceful_shutdown)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
