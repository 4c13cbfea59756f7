"""The :class:`Server`: listeners, per-connection protocol choice, graceful shutdown."""

from __future__ import annotations

import errno
import os
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from time import monotonic
from typing import Any

import anyio
import anyio.abc
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSAttribute, TLSStream

from ._fast_stream import open_fast_stream
from ._h1_base import H1Connection
from ._state import ServerState, error_logger
from .config import Config
from .h2_protocol import H2Connection, upgrade_h2c
from .h11_protocol import H11Connection
from .lifespan import Lifespan, LifespanFailure
from .streams import CLIENT_GONE, receive_before

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = ["Server", "bind_socket", "run"]

_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_ACCEPT_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def bind_socket(config: Config) -> socket.socket:
    """Create the listening socket described by ``config`` (``fd``, ``uds`` or host/port)."""
    if config.fd is not None:
        sock = socket.socket(fileno=config.fd)
    elif config.uds:
        if os.path.exists(config.uds):
            os.unlink(config.uds)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(config.uds)
        os.chmod(config.uds, 0o666)
    else:
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((config.host, config.port))
    sock.listen(config.backlog)
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


class Server:
    """Serve one ASGI app; ``await serve()`` runs until :meth:`request_shutdown`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.state: ServerState | None = None
        self.sockets: list[socket.socket] = []
        self._exit: anyio.Event | None = None
        self._force_exit = False
        self._ssl: ssl.SSLContext | None = None
        self._handlers: dict[bytes, Any] = {}
        self._connect_handlers: dict[bytes, Any] = {}
        self._h1_driver: type[H1Connection] = H11Connection
        #: Signals that start a graceful shutdown (a second one forces it).
        self.shutdown_signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)

    @property
    def port(self) -> int:
        """The TCP port of the first listening socket (useful with ``port=0``)."""
        return int(self.sockets[0].getsockname()[1])

    def request_shutdown(self) -> None:
        """Ask a running server to stop gracefully (call from the server's event loop)."""
        if self._exit is not None:
            self._exit.set()

    async def serve(
        self,
        sockets: list[socket.socket] | None = None,
        *,
        task_status: anyio.abc.TaskStatus[Server] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run lifespan startup, serve on ``sockets`` (or bind them), shut down gracefully."""
        config = self.config
        self._exit = anyio.Event()
        app = config.load_app()
        self.state = state = ServerState(app, config)
        self._ssl = config.ssl_context()
        self._handlers = self._upgrade_handlers()
        self._connect_handlers = self._extended_connect_handlers()
        self._h1_driver = _h1_driver(config.http_driver)
        lifespan = Lifespan(app, config.lifespan, state.lifespan_state)
        failure: LifespanFailure | None = None
        try:
            async with anyio.create_task_group() as outer:
                try:
                    await lifespan.startup(outer)
                except LifespanFailure as exc:
                    failure = exc
                    outer.cancel_scope.cancel()
                else:
                    await self._serve(outer, lifespan, sockets, task_status)
        finally:
            lifespan.close()
        if failure is not None:
            raise failure
        if config.uds and sockets is None and os.path.exists(config.uds):
            os.unlink(config.uds)

    async def _serve(
        self,
        outer: anyio.abc.TaskGroup,
        lifespan: Lifespan,
        sockets: list[socket.socket] | None,
        task_status: anyio.abc.TaskStatus[Server],
    ) -> None:
        config = self.config
        state = self.state
        assert state is not None and self._exit is not None
        self.sockets = sockets or [bind_socket(config)]
        outer.start_soon(state.run_watchdog)
        if config.install_signal_handlers and threading.current_thread() is threading.main_thread():
            outer.start_soon(self._watch_signals)
        async with anyio.create_task_group() as connections:
            async with anyio.create_task_group() as accepting:
                for sock in self.sockets:
                    accepting.start_soon(self._accept_loop, sock, connections)
                self._log_started()
                task_status.started(self)
                await self._exit.wait()
                accepting.cancel_scope.cancel()
            for sock in self.sockets:
                sock.close()
            await self._drain(connections)
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(config.timeout_graceful_shutdown),
        ):
            await lifespan.shutdown()
        outer.cancel_scope.cancel()

    async def _drain(self, connections: anyio.abc.TaskGroup) -> None:
        state = self.state
        assert state is not None
        state.shutting_down = True
        for connection in list(state.connections):
            connection.shutdown()
        with anyio.move_on_after(self.config.timeout_graceful_shutdown):
            while state.connections and not self._force_exit:
                await anyio.sleep(0.05)
        connections.cancel_scope.cancel()

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(*self.shutdown_signals) as signals:
            async for _ in signals:
                if self._exit is not None and self._exit.is_set():
                    self._force_exit = True
                else:
                    error_logger.info("Shutting down")
                    self.request_shutdown()

    def _log_started(self) -> None:
        for sock in self.sockets:
            name = sock.getsockname()
            if sock.family == socket.AF_UNIX:
                where = f"unix:{name}"
            else:
                scheme = "https" if self._ssl else "http"
                where = f"{scheme}://{name[0]}:{name[1]}"
            error_logger.info("Serving on %s (pid %d)", where, os.getpid())

    async def _accept_loop(self, sock: socket.socket, connections: anyio.abc.TaskGroup) -> None:
        backlog = self.config.backlog
        while True:
            await anyio.wait_readable(sock)
            # PERF: take every pending connection per readiness event; anyio's listener
            # accepts one per event-loop turn, which starves new connections under load.
            for _ in range(backlog):
                try:
                    client, _ = sock.accept()
                except BlockingIOError:
                    break
                except OSError as exc:
                    if exc.errno in _ACCEPT_RESOURCE_ERRORS:
                        # EMFILE and friends: back off instead of spinning.
                        error_logger.warning("accept() failed: %s", exc)
                        await anyio.sleep(0.1)
                        break
                    continue  # e.g. ECONNABORTED: that client is gone
                connections.start_soon(self._handle_socket, client)

    async def _handle_socket(self, client: socket.socket) -> None:
        client.setblocking(False)
        try:
            if client.family != socket.AF_UNIX:
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            stream = await open_fast_stream(client)
        except OSError:
            client.close()
            return
        await self._handle(stream)

    async def _handle(self, stream: anyio.abc.ByteStream) -> None:
        state = self.state
        assert state is not None
        config = self.config
        accepted = None
        try:
            client = _address(stream.extra(SocketAttribute.remote_address, None))
            local = stream.extra(SocketAttribute.local_address, None)
            server = (local, None) if isinstance(local, str) and local else _address(local)
            byte_stream: anyio.abc.ByteStream = stream
            initial = b""
            use_h2 = False
            if self._ssl is not None:
                with anyio.move_on_after(config.timeout_tls_handshake) as scope:
                    byte_stream = await TLSStream.wrap(
                        stream, server_side=True, ssl_context=self._ssl, standard_compatible=False
                    )
                if scope.cancelled_caught:
                    await anyio.aclose_forcefully(stream)
                    return
                use_h2 = byte_stream.extra(TLSAttribute.alpn_protocol, None) == "h2"
                scheme = "https"
            else:
                scheme = "http"
                if config.http2:
                    accepted = monotonic()
                    sniffed = await self._sniff(stream, accepted + config.timeout_headers)
                    if sniffed is None:
                        return
                    initial = sniffed
                    use_h2 = initial.startswith(_H2_PREFACE)
            if use_h2:
                await H2Connection(
                    state, byte_stream, scheme, client, server, self._connect_handlers
                ).run(initial)
            else:
                await self._h1_driver(
                    state, byte_stream, scheme, client, server, self._handlers
                ).run(initial, accepted)
        except Exception as exc:
            if _client_gone(exc):
                # A client that disconnects (reset, TLS without close_notify, a send
                # after its close) is not a server error.
                error_logger.debug("connection closed by the client: %r", exc)
            else:
                error_logger.exception("Unexpected error while serving a connection")
            await anyio.aclose_forcefully(stream)

    async def _sniff(self, stream: anyio.abc.ByteStream, deadline: float) -> bytes | None:
        """Read the first bytes; enough of them to tell an HTTP/2 preface from HTTP/1.1.

        Bounded by ``deadline``, the first HTTP/1.1 head's: the driver that takes over
        keeps it, so sniffing does not add to ``timeout_headers``.
        """
        data = b""
        try:
            while True:
                chunk = await receive_before(stream, deadline, 65536)
                if not chunk:
                    break
                data += chunk
                if len(data) >= len(_H2_PREFACE) or not _H2_PREFACE.startswith(data):
                    return data
        except TimeoutError:
            pass
        await anyio.aclose_forcefully(stream)
        return None

    def _upgrade_handlers(self) -> dict[bytes, Any]:
        handlers = dict(self.config.upgrade_handlers)
        if self.config.http2 and self._ssl is None:
            handlers.setdefault(b"h2c", upgrade_h2c)
        if b"websocket" not in handlers:
            try:  # WebSockets need the optional ``websockets`` package (lcore[ws])
                from lcore_ws.upgrade import upgrade_handler
            except ImportError:  # WebSocket routes answer 426, not a silent 404
                from lcore_ws.endpoint import refusal_handler, warn_unserved

                handlers[b"websocket"] = refusal_handler()
                warn_unserved(
                    getattr(self.state, "app", None),
                    "this server (the websockets package is missing)",
                    'Install it: pip install "lcore[ws]".',  # the wording of lcore._extras
                )
            else:
                handlers[b"websocket"] = upgrade_handler()
        return handlers

    def _extended_connect_handlers(self) -> dict[bytes, Any]:
        handlers = dict(self.config.connect_handlers)
        if b"websocket" not in handlers and b"websocket" in self._handlers:
            try:  # WebSockets over HTTP/2 (RFC 8441), served like the HTTP/1.1 upgrade
                from lcore_ws.upgrade import h2_connect_handler
            except ImportError:
                pass
            else:
                handlers[b"websocket"] = h2_connect_handler(
                    getattr(self._handlers[b"websocket"], "options", None)
                )
        return handlers

    @contextmanager
    def run_in_thread(self) -> Iterator[Server]:
        """Run the server in a background thread for tests; yields once it listens."""
        self.config.install_signal_handlers = False
        with anyio.from_thread.start_blocking_portal(**self.config.run_options()) as portal:
            future, _ = portal.start_task(self.serve)
            try:
                yield self
            finally:
                portal.call(self.request_shutdown)
                future.result(timeout=self.config.timeout_graceful_shutdown + 10)


def _h1_driver(name: str) -> type[H1Connection]:
    if name == "httptools":
        from .httptools_protocol import HttptoolsConnection

        return HttptoolsConnection
    return H11Connection


def _client_gone(exc: BaseException) -> bool:
    """Whether ``exc`` (every leaf of an exception group) says the client went away."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_client_gone(inner) for inner in exc.exceptions)
    return isinstance(exc, CLIENT_GONE)


def _address(value: Any) -> Any:
    if isinstance(value, tuple):
        return (str(value[0]), int(value[1]))
    return None


def run(config: Config, sockets: list[socket.socket] | None = None) -> None:
    """Run one server for ``config`` until it stops, on the event loop ``config`` picks."""
    anyio.run(Server(config).serve, sockets, **config.run_options())
