"""Command line: ``python -m lcore_asgi myapp:app [options]``."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from lcore._cli import base_parser, check_certificate, startup_errors
from lcore._loader import load_app
from lcore.reloader import is_reloader_child, run_with_reloader, watch_parent

from .config import Config
from .lifespan import LifespanFailure
from .serving import run
from .supervisor import EXIT_STARTUP_FAILED, run_supervised

__all__ = ["build_parser", "main"]

_DEFAULTS = Config(app=None)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m lcore_asgi``."""
    p = base_parser(
        "python -m lcore_asgi",
        "Serve an ASGI app over HTTP/1.1 and HTTP/2 with lcore's embedded server.",
        port=_DEFAULTS.port,
    )
    a = p.add_argument
    a("--uds", help="bind a Unix domain socket at this path instead")
    a("--fd", type=int, help="serve on an already-listening socket file descriptor")
    a("--backlog", type=int, default=_DEFAULTS.backlog)
    a("--certfile", help="TLS certificate (PEM); enables HTTPS with ALPN h2/http/1.1")
    a("--keyfile", help="TLS private key (PEM)")
    a("--no-http2", dest="http2", action="store_false", help="disable HTTP/2")
    a(
        "--http",
        choices=["auto", "h11", "httptools"],
        default=_DEFAULTS.http,
        help="HTTP/1.1 driver; auto: httptools when installed (default %(default)s)",
    )
    a(
        "--loop",
        choices=["auto", "asyncio", "uvloop"],
        default=_DEFAULTS.loop,
        help="event loop; auto: uvloop when installed (default %(default)s)",
    )
    a("--access-log", dest="access_log", action="store_true", default=True)
    a("--no-access-log", dest="access_log", action="store_false")
    a("--lifespan", choices=["auto", "on", "off"], default="auto")
    a("--root-path", default="")
    a("--limit-concurrency", type=int, help="max requests in flight; more get 503")
    for name in (
        "timeout_keep_alive",
        "timeout_headers",
        "timeout_body",
        "timeout_write",
        "timeout_tls_handshake",
        "timeout_graceful_shutdown",
    ):
        a("--" + name.replace("_", "-"), type=float, default=getattr(_DEFAULTS, name))
    for name in (
        "h11_max_incomplete_event_size",
        "max_request_line_size",
        "max_header_count",
        "h2_max_concurrent_streams",
        "h2_initial_window_size",
        "h2_max_frame_size",
        "h2_max_header_list_size",
    ):
        a("--" + name.replace("_", "-"), type=int, default=getattr(_DEFAULTS, name))
    for name in ("min_body_rate", "min_write_rate"):
        a(
            "--" + name.replace("_", "-"),
            type=float,
            default=getattr(_DEFAULTS, name),
            help="bytes/s while the server waits on the client; 0 disables (default %(default)s)",
        )
    a("--max-body-size", type=int, default=_DEFAULTS.max_body_size, help="0 means unlimited")
    return p


def _configure_logging(level: str) -> None:
    numeric = getattr(logging, level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(message)s"))
    for name in ("lcore_asgi.error", "lcore_asgi.access"):
        logger = logging.getLogger(name)
        logger.setLevel(numeric)
        logger.addHandler(handler)
        logger.propagate = False


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` and serve; exit non-zero with one line when the app cannot start."""
    args = build_parser().parse_args(argv)
    options: dict[str, Any] = vars(args)
    if options["max_body_size"] == 0:
        options["max_body_size"] = None
    if is_reloader_child():
        options["reload"] = False
        watch_parent()
    _configure_logging(options["log_level"])
    try:
        config = Config(**options)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    with startup_errors(debug=config.log_level == "debug", host=config.host, port=config.port):
        check_certificate(config.certfile, config.keyfile, config.keyfile_password)
        try:
            if config.reload:
                sys.exit(run_with_reloader())
            # Loaded once, here: a factory spec ('mod:create_app()') builds one app.
            config.app = load_app(config.app, protocol="asgi")
            if config.workers > 1:
                sys.exit(run_supervised(config))
            run(config)
        except LifespanFailure as exc:
            print(f"error: application startup failed: {exc}", file=sys.stderr)
            sys.exit(EXIT_STARTUP_FAILED)
        except KeyboardInterrupt:
            pass
