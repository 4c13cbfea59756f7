"""Running an app: ``app.run()`` and the server adapters.

``app.run()`` serves on lcore's embedded ASGI server (HTTP/1.1, HTTP/2, WebSockets)
when ``lcore_asgi`` is importable, else on wsgiref. ``server=`` picks another adapter by
name (``'gunicorn'``, ``'uvicorn'``, ``'waitress'``, ...) or takes a ``ServerAdapter``.
An adapter whose package is missing says which package to install. ``reloader=True``
uses :func:`lcore.reloader.run_with_reloader`, the ``--reload`` of the command lines.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Any

from .config import load_dotenv
from .lifecycle import run_shutdown

__all__ = [
    "run",
    "ServerAdapter",
    "WSGIRefServer",
    "GunicornServer",
    "WaitressServer",
    "CherootServer",
    "GeventServer",
    "EventletServer",
    "TornadoServer",
    "TwistedServer",
    "MeinheldServer",
    "BjoernServer",
    "AiohttpServer",
    "PasteServer",
    "UvicornServer",
    "HypercornServer",
    "LcoreASGIServer",
    "AutoServer",
    "server_names",
]

_log = logging.getLogger("lcore")


class ServerAdapter:
    """Base class: ``run(app)`` serves ``app`` on ``host:port`` until stopped."""

    quiet = False
    #: 'wsgi' or 'asgi': which side of the app this server talks to.
    protocol = "wsgi"

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, **options: Any) -> None:
        self.options = options
        self.host = host
        self.port = int(port)

    def run(self, handler: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(
            f"{k}={v!r}" for k, v in dict(host=self.host, port=self.port, **self.options).items()
        )
        return f"{type(self).__name__}({args})"


def _need(module: str, package: str, adapter: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"server {adapter!r} needs the {package!r} package: pip install {package}"
        ) from None


class WSGIRefServer(ServerAdapter):
    """The stdlib's wsgiref server, threaded (development only)."""

    def run(self, app: Any) -> None:
        from socketserver import ThreadingMixIn
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        class Handler(WSGIRequestHandler):
            quiet_ = False

            def address_string(self) -> str:
                return self.client_address[0]

            def log_request(self, *a: Any, **k: Any) -> None:
                if not self.quiet_:
                    super().log_request(*a, **k)

        Handler.quiet_ = self.quiet

        class Server(ThreadingMixIn, WSGIServer):
            daemon_threads = True

        if ":" in self.host:
            import socket

            Server.address_family = socket.AF_INET6
        self.srv = make_server(self.host, self.port, app, Server, Handler)
        self.port = self.srv.server_port
        try:
            self.srv.serve_forever()
        finally:
            self.srv.server_close()


class GunicornServer(ServerAdapter):
    """Gunicorn (pre-fork WSGI); ``workers=`` and gunicorn settings as options."""

    def run(self, handler: Any) -> None:
        base = _need("gunicorn.app.base", "gunicorn", "gunicorn")
        config = {"bind": f"{self.host}:{self.port}"}
        config.update(self.options)

        class App(base.BaseApplication):  # type: ignore[name-defined]
            def load_config(self) -> None:
                for key, value in config.items():
                    self.cfg.set(key, value)

            def load(self) -> Any:
                return handler

        App().run()


class WaitressServer(ServerAdapter):
    """Waitress (pure-Python, threaded WSGI)."""

    def run(self, handler: Any) -> None:
        waitress = _need("waitress", "waitress", "waitress")
        waitress.serve(handler, host=self.host, port=self.port, _quiet=self.quiet, **self.options)


class CherootServer(ServerAdapter):
    """Cheroot (CherryPy's threaded WSGI server)."""

    def run(self, handler: Any) -> None:
        wsgi = _need("cheroot.wsgi", "cheroot", "cheroot")
        srv = wsgi.Server((self.host, self.port), handler, **self.options)
        try:
            srv.start()
        finally:
            srv.stop()


class GeventServer(ServerAdapter):
    """gevent's WSGI server (needs ``gevent`` and monkey-patching)."""

    def run(self, handler: Any) -> None:
        pywsgi = _need("gevent.pywsgi", "gevent", "gevent")
        pywsgi.WSGIServer(
            (self.host, self.port), handler, log=None if self.quiet else "default"
        ).serve_forever()


class EventletServer(ServerAdapter):
    """eventlet's WSGI server (needs ``eventlet`` and monkey-patching)."""

    def run(self, handler: Any) -> None:
        eventlet = _need("eventlet", "eventlet", "eventlet")
        from eventlet import wsgi

        wsgi.server(eventlet.listen((self.host, self.port)), handler, log_output=not self.quiet)


class TornadoServer(ServerAdapter):
    """Tornado's WSGI container."""

    def run(self, handler: Any) -> None:
        _need("tornado", "tornado", "tornado")
        import tornado.httpserver
        import tornado.ioloop
        import tornado.wsgi

        container = tornado.wsgi.WSGIContainer(handler)
        server = tornado.httpserver.HTTPServer(container)
        server.listen(port=self.port, address=self.host)
        tornado.ioloop.IOLoop.current().start()


class TwistedServer(ServerAdapter):
    """Twisted's WSGI resource."""

    def run(self, handler: Any) -> None:
        _need("twisted", "twisted", "twisted")
        from twisted.internet import reactor
        from twisted.python.threadpool import ThreadPool
        from twisted.web import server, wsgi

        pool = ThreadPool()
        pool.start()
        reactor.addSystemEventTrigger("after", "shutdown", pool.stop)
        factory = server.Site(wsgi.WSGIResource(reactor, pool, handler))
        reactor.listenTCP(self.port, factory, interface=self.host)
        reactor.run()


class MeinheldServer(ServerAdapter):
    """meinheld (a C WSGI server)."""

    def run(self, handler: Any) -> None:
        server = _need("meinheld.server", "meinheld", "meinheld")
        server.listen((self.host, self.port))
        server.run(handler)


class BjoernServer(ServerAdapter):
    """bjoern (a C WSGI server)."""

    def run(self, handler: Any) -> None:
        bjoern = _need("bjoern", "bjoern", "bjoern")
        bjoern.run(handler, self.host, self.port)


class AiohttpServer(ServerAdapter):
    """aiohttp serving the app's ASGI side is not offered; it serves WSGI via aiohttp-wsgi."""

    def run(self, handler: Any) -> None:
        _need("aiohttp_wsgi", "aiohttp-wsgi", "aiohttp")
        import aiohttp_wsgi

        aiohttp_wsgi.serve(handler, host=self.host, port=self.port)


class PasteServer(ServerAdapter):
    """Paste's threaded HTTP server."""

    def run(self, handler: Any) -> None:
        httpserver = _need("paste.httpserver", "paste", "paste")
        httpserver.serve(handler, host=self.host, port=str(self.port), **self.options)


def _import_string(app: Any, server: str) -> str:
    """``"module:attr"`` naming ``app`` (servers that spawn workers import it by name)."""
    main = sys.modules.get("__main__")
    for attrs_first in (True, False):
        for name, mod in list(sys.modules.items()):
            # A script is not importable by name in a worker (``__mp_main__`` is it too).
            if mod is None or mod is main or name in ("__main__", "__mp_main__"):
                continue
            namespace = getattr(mod, "__dict__", None) or {}
            names = ("app", "application") if attrs_first else list(namespace)
            for attr in names:
                if attr.isidentifier() and namespace.get(attr) is app:
                    return f"{name}:{attr}"
    raise ValueError(
        f"{server} starts several workers by importing the app, so it must live in an importable "
        f"module: run it as 'python -m lcore mymodule:app -s {server} --workers N' "
        "(or use server='lcore', which forks)"
    )


class UvicornServer(ServerAdapter):
    """Uvicorn serving the app's ASGI side (``workers=N`` imports it in each worker)."""

    protocol = "asgi"

    def run(self, handler: Any) -> None:
        uvicorn = _need("uvicorn", "uvicorn", "uvicorn")
        target = handler
        if int(self.options.get("workers") or 1) > 1:
            target = _import_string(handler, "uvicorn")
        uvicorn.run(
            target,
            host=self.host,
            port=self.port,
            log_level="warning" if self.quiet else "info",
            **self.options,
        )


class HypercornServer(ServerAdapter):
    """Hypercorn serving the app's ASGI side (``workers=N``: hypercorn's worker processes)."""

    protocol = "asgi"

    def run(self, handler: Any) -> None:
        _need("hypercorn", "hypercorn", "hypercorn")
        import asyncio

        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"{self.host}:{self.port}"]
        if self.quiet:
            config.accesslog = None
        for k, v in self.options.items():
            setattr(config, k, v)
        if config.workers > 1:
            # hypercorn's own supervisor: spawned workers import the app by name.
            from hypercorn.run import run as run_workers

            config.application_path = _import_string(handler, "hypercorn")
            run_workers(config)
            return

        async def main() -> None:
            # Without a shutdown trigger hypercorn only stops when cancelled; SIGINT and
            # SIGTERM end it gracefully instead (open requests finish).
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, stop.set)
                except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover
                    pass
            await serve(handler, config, shutdown_trigger=stop.wait)

        asyncio.run(main())


class LcoreASGIServer(ServerAdapter):
    """lcore's embedded server (``lcore_asgi``): HTTP/1.1, HTTP/2 and WebSockets."""

    protocol = "asgi"

    def run(self, handler: Any) -> None:
        from lcore_asgi.server import serve

        opts = dict(self.options)
        if self.quiet:
            opts.setdefault("access_log", False)
        serve(handler, host=self.host, port=self.port, **opts)


class AutoServer(ServerAdapter):
    """The first available of: lcore's embedded server, gunicorn, waitress, cheroot, wsgiref."""

    #: (adapter, module that must be importable), in order of preference.
    adapters: tuple[tuple[type[ServerAdapter], str | None], ...] = ()

    def run(self, handler: Any) -> None:
        import importlib.util

        for sa, module in self.adapters:
            if module is not None and importlib.util.find_spec(module) is None:
                continue
            server = sa(self.host, self.port, **self.options)
            server.quiet = self.quiet
            return server.run(handler)


AutoServer.adapters = (
    (LcoreASGIServer, "lcore_asgi"),
    (GunicornServer, "gunicorn"),
    (WaitressServer, "waitress"),
    (CherootServer, "cheroot"),
    (WSGIRefServer, None),
)


server_names: dict[str, type[ServerAdapter]] = {
    "lcore": LcoreASGIServer,
    "asgi": LcoreASGIServer,
    "embedded": LcoreASGIServer,
    "wsgiref": WSGIRefServer,
    "gunicorn": GunicornServer,
    "waitress": WaitressServer,
    "cheroot": CherootServer,
    "gevent": GeventServer,
    "eventlet": EventletServer,
    "tornado": TornadoServer,
    "twisted": TwistedServer,
    "meinheld": MeinheldServer,
    "bjoern": BjoernServer,
    "aiohttp": AiohttpServer,
    "paste": PasteServer,
    "uvicorn": UvicornServer,
    "hypercorn": HypercornServer,
    "auto": AutoServer,
}


def _default_server() -> str:
    try:
        import lcore_asgi.server  # noqa: F401

        return "lcore"
    except ImportError:  # pragma: no cover - lcore_asgi ships with lcore
        return "wsgiref"


def _resolve_server(
    server: Any, host: str, port: int, workers: int | None, kargs: dict[str, Any]
) -> ServerAdapter:
    if server is None:
        server = _default_server()
    if isinstance(server, str):
        if server in server_names:
            server = server_names[server]
        elif ":" in server:  # "package.module:MyAdapter", as Lcore accepted
            from ._utils import load

            server = load(server)
        else:
            raise ValueError(f"unknown server {server!r}; choose from {sorted(server_names)}")
    if isinstance(server, type) and issubclass(server, ServerAdapter):
        if workers and server in (GunicornServer, LcoreASGIServer, UvicornServer, HypercornServer):
            kargs.setdefault("workers", workers)
        server = server(host=host, port=port, **kargs)
    if not isinstance(server, ServerAdapter):
        raise ValueError(f"unknown or unsupported server: {server!r}")
    return server


def run(
    app: Any = None,
    server: Any = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    interval: float = 1,
    reloader: bool = False,
    quiet: bool = False,
    debug: bool | None = None,
    workers: int | None = None,
    plugins: list[Any] | None = None,
    config: dict[str, Any] | None = None,
    **kargs: Any,
) -> None:
    """Serve ``app`` until interrupted; SIGINT/SIGTERM stop it and run ``on_shutdown``.

    Loads ``.env`` from the current directory first (variables already set win).
    ``app`` is an app object or a ``"module:attr"`` string (default: the default app);
    ``server`` a name from ``server_names``, a ``ServerAdapter`` class or instance, or a
    ``"module:Adapter"`` string. ``plugins`` (objects or ``"module:attr"`` strings) are
    installed and ``config`` (a dict) applied before serving. With ``reloader=True`` a
    parent process restarts the server whenever a file under the current directory (or
    the script's) changes: see :func:`lcore.reloader.run_with_reloader` (``interval`` is
    its polling period when watchfiles is not installed). Extra keyword arguments go to
    the adapter.

    A port in use, a bad certificate file or an app that is not an app ends the process
    with one ``error: ...`` line on stderr and exit status 1 or 2 (with the traceback too
    when ``log_level="debug"`` is given or the ``lcore`` logger is at DEBUG).
    """
    from ._cli import check_certificate, startup_errors
    from .reloader import is_reloader_child, run_with_reloader, watch_parent

    child = is_reloader_child()
    if not child:
        load_dotenv()
    if reloader and not child:
        code = run_with_reloader(interval=interval)
        if code:
            sys.exit(code)
        return
    watch_parent()
    debug_errors = kargs.get("log_level") == "debug" or _log.isEnabledFor(logging.DEBUG)
    with startup_errors(debug=debug_errors, host=host, port=port):
        check_certificate(
            kargs.get("certfile"), kargs.get("keyfile"), kargs.get("keyfile_password")
        )
        _run(app, server, host, port, quiet, debug, workers, plugins, config, kargs)


def _run(
    app: Any,
    server: Any,
    host: str,
    port: int,
    quiet: bool,
    debug: bool | None,
    workers: int | None,
    plugins: list[Any] | None,
    config: dict[str, Any] | None,
    kargs: dict[str, Any],
) -> None:
    from ._loader import load_app
    from .app import Lcore, default_app

    app = load_app(default_app() if app is None else app)
    for plugin in plugins or []:
        if isinstance(plugin, str):
            from ._utils import load

            plugin = load(plugin)
        app.install(plugin)
    if config and isinstance(app, Lcore):
        app.config.update(config)
    if isinstance(app, Lcore) and debug is not None:
        app.config["debug"] = bool(debug)
    srv = _resolve_server(server, host, port, workers, kargs)
    srv.quiet = srv.quiet or quiet
    if not srv.quiet:
        print(
            f"lcore serving on http://{host}:{srv.port}/ with {type(srv).__name__}",
            file=sys.stderr,
            flush=True,
        )
    previous = _install_sigterm()
    try:
        srv.run(app)
    except KeyboardInterrupt:
        pass
    finally:
        run_shutdown()
        close = getattr(app, "close", None)
        if isinstance(app, Lcore) and close is not None:
            close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _on_term(signum: int, frame: Any) -> None:
    # Unwinds the server like Ctrl-C does; ``run`` then runs the shutdown callbacks.
    raise KeyboardInterrupt


def _install_sigterm() -> Any:
    """Make SIGTERM stop the server like SIGINT; returns the handler it replaced."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_term)
            return current
    except ValueError:  # pragma: no cover - not in the main thread
        pass
    return None
