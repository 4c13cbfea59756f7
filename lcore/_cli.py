"""What the command lines share: the base parser and the start-up error report.

``python -m lcore``, ``python -m lcore_asgi`` and ``python -m lcore_ws`` each build their
parser from :func:`base_parser` and add their own options; each runs its server inside
:func:`startup_errors`, as ``app.run()`` does, so a port in use, a bad certificate or a
bad app spec ends the process with one line on stderr and exit status 1 or 2 (2: what
was typed is wrong; 1: the system refused). The traceback is printed too only with
``--log-level debug``.
"""

from __future__ import annotations

import argparse
import errno
import os
import ssl
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._extras import EXTRAS, MissingExtraError, install_hint
from ._loader import AppLoadError

__all__ = ["CertificateError", "LOG_LEVELS", "base_parser", "check_certificate", "startup_errors"]

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

APP_HELP = "the app: module, module:attr, pkg.mod:attr, file.py or module:factory()"


class CertificateError(ValueError):
    """The TLS certificate or key file cannot be used; the message names the file."""


def base_parser(
    prog: str, description: str, *, port: int, app_required: bool = True
) -> argparse.ArgumentParser:
    """A parser with the options every entry point has: app, host, port, workers, reload, log level."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("app", nargs=None if app_required else "?", help=APP_HELP)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default %(default)s)")
    p.add_argument("--port", type=int, default=port, help="bind port (default %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="pre-forked worker processes (default 1)")
    p.add_argument(
        "--reload",
        action="store_true",
        help="restart when a .py (or template) file under the current directory changes; "
        f"uses watchfiles when installed ({install_hint('watchfiles')}), else polls",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=LOG_LEVELS,
        help="'debug' also prints the traceback of a start-up error",
    )
    return p


def check_certificate(
    certfile: str | None, keyfile: str | None = None, password: Any = None
) -> None:
    """Raise :class:`CertificateError` unless ``certfile`` (and ``keyfile``) load as a TLS pair."""
    if not certfile:
        if keyfile:
            raise CertificateError(f"--keyfile {keyfile!r} given without --certfile")
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pair = f"TLS certificate {certfile!r}" + (f" with key {keyfile!r}" if keyfile else "")
    try:
        context.load_cert_chain(certfile, keyfile, password)
    except FileNotFoundError:
        missing = certfile if not os.path.exists(certfile) else keyfile
        raise CertificateError(f"cannot load {pair}: {missing!r} does not exist") from None
    except PermissionError:
        raise CertificateError(f"cannot load {pair}: permission denied") from None
    except ssl.SSLError as exc:
        # PEM_LIB says only that PEM parsing failed; other reasons (a key that does not
        # match the certificate, a wrong password) are worth naming.
        reason = (
            "" if exc.reason in (None, "PEM_LIB") else f" ({exc.reason.replace('_', ' ').lower()})"
        )
        raise CertificateError(
            f"cannot load {pair}: not a valid PEM certificate and private key{reason}"
        ) from None


def describe(
    exc: BaseException, host: str | None = None, port: int | None = None
) -> tuple[str, int] | None:
    """``(one-line message, exit status)`` for a start-up error a user can fix, else None."""
    # anyio wraps the error of a task in an exception group (the backport's on 3.10)
    while isinstance(getattr(exc, "exceptions", None), tuple) and len(exc.exceptions) == 1:  # type: ignore[attr-defined]
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    where = f"{host}:{port}" if host is not None and port is not None else "the address"
    if isinstance(exc, (AppLoadError, CertificateError)):
        return str(exc), 2
    if isinstance(exc, OSError):
        if exc.errno == errno.EADDRINUSE:
            return (
                f"cannot listen on {where}: address already in use (is another server running there?)",
                1,
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            hint = (
                " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
                if port is not None and 0 < port < 1024
                else ""
            )
            return f"cannot listen on {where}: permission denied{hint}", 1
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"cannot listen on {where}: no such address on this machine", 1
        return None
    if isinstance(exc, MissingExtraError):
        return str(exc), 1
    if isinstance(exc, ModuleNotFoundError) and exc.name in EXTRAS:
        return f"{exc}: {install_hint(exc.name)}", 1
    if isinstance(exc, ImportError):
        return str(exc), 1
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc}", 1
    return None


@contextmanager
def startup_errors(
    *, debug: bool = False, host: str | None = None, port: int | None = None
) -> Iterator[None]:
    """Turn a start-up error a user can fix into ``error: ...`` on stderr and SystemExit(1 or 2)."""
    try:
        yield
    except Exception as exc:
        known = describe(exc, host, port)
        if known is None:
            raise
        message, status = known
        if debug:
            traceback.print_exc()
        print(f"error: {message}", file=sys.stderr, flush=True)
        raise SystemExit(status) from None
