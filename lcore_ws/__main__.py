"""``python -m lcore_ws myapp:app --port 8081``: the side-by-side WebSocket server.

Run it next to the WSGI server that serves the app's HTTP routes (``gunicorn myapp:app``);
it serves the same app's ``@app.websocket`` routes.
"""

from __future__ import annotations

import argparse
import logging
import sys

from lcore._cli import base_parser, check_certificate, startup_errors
from lcore._extras import require
from lcore._loader import load_app
from lcore.reloader import is_reloader_child, run_with_reloader, watch_parent

from .options import WebSocketOptions


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m lcore_ws``."""
    d = WebSocketOptions()
    p = base_parser(
        "python -m lcore_ws",
        "Serve an Lcore app's WebSocket routes beside its WSGI server.",
        port=8081,
    )
    p.add_argument("--certfile", help="TLS certificate (PEM): serve wss://")
    p.add_argument("--keyfile", help="TLS private key (PEM)")
    p.add_argument("--root-path", default="")
    p.add_argument(
        "--max-size", type=int, default=d.max_size, help="largest message in bytes (0: no limit)"
    )
    p.add_argument("--max-queue", type=int, default=d.max_queue)
    p.add_argument("--ping-interval", type=float, default=d.ping_interval, help="0 disables pings")
    p.add_argument("--ping-timeout", type=float, default=d.ping_timeout)
    p.add_argument("--idle-timeout", type=float, default=0.0, help="0 (default) disables it")
    p.add_argument("--no-compression", dest="compression", action="store_false")
    p.add_argument("--timeout-graceful-shutdown", type=float, default=10.0)
    return p


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` and serve until interrupted; one line and exit 1 or 2 if it cannot start."""
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
    watch_parent()
    with startup_errors(debug=args.log_level == "debug", host=args.host, port=args.port):
        require("websockets", "ws", "python -m lcore_ws")
        check_certificate(args.certfile, args.keyfile)
        if args.reload and not is_reloader_child():
            sys.exit(run_with_reloader())
        from .server import serve

        app = load_app(args.app, protocol="lcore")
        try:
            serve(
                app,
                args.host,
                args.port,
                options=options,
                workers=args.workers,
                certfile=args.certfile,
                keyfile=args.keyfile,
                root_path=args.root_path,
                log_level=args.log_level,
                access_log=False,
                timeout_graceful_shutdown=args.timeout_graceful_shutdown,
            )
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
