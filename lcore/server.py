"""Running an app: ``app.run()``, server adapters and the polling reloader.

``app.run()`` serves on lcore's embedded ASGI server (HTTP/1.1, HTTP/2, WebSockets)
when ``lcore_asgi`` is importable, else on wsgiref. ``server=`` picks another adapter by
name (``'gunicorn'``, ``'uvicorn'``, ``'waitress'``, ...) or takes a ``ServerAdapter``.
An adapter whose package is missing says which package to install.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from .config import load_dotenv
from .lifecycle import run_shutdown

__all__ = [
    "run", "ServerAdapter", "WSGIRefServer", "GunicornServer", "WaitressServer", "CherootServer",
    "GeventServer", "EventletServer", "TornadoServer", "TwistedServer", "MeinheldServer",
    "BjoernServer", "AiohttpServer", "PasteServer", "UvicornServer", "HypercornServer",
    "LcoreASGIServer", "AutoServer", "server_names", "FileCheckerThread",
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
        args = ", ".join(f"{k}={v!r}" for k, v in dict(host=self.host, port=self.port, **self.options).items())
        return f"{type(self).__name__}({args})"


def _need(module: str, package: str, adapter: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"server {adapter!r} needs the {package!r} package: pip install {package}") from None


class WSGIRefServer(ServerAdapter):
    """The stdlib's wsgiref server, threaded (development only)."""

    def run(self, app: Any) -> None:
        from socketserver import ThreadingMixIn
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        class Handler(WSGIRequestHandler):
            def address_string(self) -> str:
                return self.client_address[0]

            def log_request(self, *a: Any, **k: Any) -> None:
                if not self.quiet_:
                    super().log_request(*a, **k)

        Handler.quiet_ = self.quiet  # type: ignore[attr-defined]

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

        class App(base.BaseApplication):  # type: ignore[name-defined,misc]
            def load_config(self) -> None:
                for key, value in config.items():
                    self.cfg.set(key, value)

            def load(self) -> Any:
                return handler

        App().run()


class WaitressServer(ServerAdapter):
    def run(self, handler: Any) -> None:
        waitress = _need("waitress", "waitress", "waitress")
        waitress.serve(handler, host=self.host, port=self.port, _quiet=self.quiet, **self.options)


class CherootServer(ServerAdapter):
    def run(self, handler: Any) -> None:
        wsgi = _need("cheroot.wsgi", "cheroot", "cheroot")
        srv = wsgi.Server((self.host, self.port), handler, **self.options)
        try:
            srv.start()
        finally:
            srv.stop()


class GeventServer(ServerAdapter):
    def run(self, handler: Any) -> None:
        pywsgi = _need("gevent.pywsgi", "gevent", "gevent")
        pywsgi.WSGIServer((self.host, self.port), handler, log=None if self.quiet else "default").serve_forever()


class EventletServer(ServerAdapter):
    def run(self, handler: Any) -> None:
        eventlet = _need("eventlet", "eventlet", "eventlet")
        from eventlet import wsgi  # type: ignore[import-not-found]

        wsgi.server(eventlet.listen((self.host, self.port)), handler, log_output=not self.quiet)


class TornadoServer(ServerAdapter):
    def run(self, handler: Any) -> None:
        _need("tornado", "tornado", "tornado")
        import tornado.httpserver  # type: ignore[import-not-found]
        import tornado.ioloop
        import tornado.wsgi

        container = tornado.wsgi.WSGIContainer(handler)
        server = tornado.httpserver.HTTPServer(container)
        server.listen(port=self.port, address=self.host)
        tornado.ioloop.IOLoop.instance().start()


class TwistedServer(ServerAdapter):
    def run(self, handler: Any) -> None:
        _need("twisted", "twisted", "twisted")
        from twisted.internet import reactor  # type: ignore[import-not-found]
        from twisted.python.threadpool import ThreadPool  # type: ignore[import-not-found]
        from twisted.web import server, wsgi  # type: ignore[import-not-found]

        pool = ThreadPool()
        pool.start()
        reactor.addSystemEventTrigger("after", "shutdown", pool.stop)
        factory = server.Site(wsgi.WSGIResource(reactor, pool, handler))
        reactor.listenTCP(self.port, factory, interface=self.host)
        reactor.run()


class MeinheldServer(ServerAdapter):
    def run(self, handler: Any) -> None:
        server = _need("meinheld.server", "meinheld", "meinheld")
        server.listen((self.host, self.port))
        server.run(handler)


class BjoernServer(ServerAdapter):
    def run(self, handler: Any) -> None:
        bjoern = _need("bjoern", "bjoern", "bjoern")
        bjoern.run(handler, self.host, self.port)


class AiohttpServer(ServerAdapter):
    """aiohttp serving the app's ASGI side is not offered; it serves WSGI via aiohttp-wsgi."""

    def run(self, handler: Any) -> None:
        _need("aiohttp_wsgi", "aiohttp-wsgi", "aiohttp")
        import aiohttp_wsgi  # type: ignore[import-not-found]

        aiohttp_wsgi.serve(handler, host=self.host, port=self.port)


class PasteServer(ServerAdapter):
    def run(self, handler: Any) -> None:
        httpserver = _need("paste.httpserver", "paste", "paste")
        httpserver.serve(handler, host=self.host, port=str(self.port), **self.options)


class UvicornServer(ServerAdapter):
    """Uvicorn serving the app's ASGI side."""

    protocol = "asgi"

    def run(self, handler: Any) -> None:
        uvicorn = _need("uvicorn", "uvicorn", "uvicorn")
        uvicorn.run(handler, host=self.host, port=self.port,
                    log_level="warning" if self.quiet else "info", **self.options)


class HypercornServer(ServerAdapter):
    """Hypercorn serving the app's ASGI side."""

    protocol = "asgi"

    def run(self, handler: Any) -> None:
        _need("hypercorn", "hypercorn", "hypercorn")
        import asyncio

        from hypercorn.asyncio import serve  # type: ignore[import-not-found]
        from hypercorn.config import Config  # type: ignore[import-not-found]

        config = Config()
        config.bind = [f"{self.host}:{self.port}"]
        for k, v in self.options.items():
            setattr(config, k, v)
        asyncio.run(serve(handler, config))


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
    """The first available of: lcore's embedded server, gunicorn, waitress, wsgiref."""

    adapters: tuple[type[ServerAdapter], ...] = ()

    def run(self, handler: Any) -> None:
        for sa in (LcoreASGIServer, GunicornServer, WaitressServer, CherootServer, WSGIRefServer):
            try:
                server = sa(self.host, self.port, **self.options)
                server.quiet = self.quiet
                return server.run(handler)
            except ImportError:
                continue


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
    **kargs: Any,
) -> None:
    """Serve ``app`` until interrupted (SIGINT/SIGTERM run ``on_shutdown`` callbacks).

    Loads ``.env`` from the current directory first (existing variables win).
    """
    from .app import Lcore, default_app

    if os.environ.get("LCORE_CHILD") != "true":
        load_dotenv()
    if reloader and not os.environ.get("LCORE_CHILD"):
        _run_reloader_parent(interval)
        return
    if app is None:
        app = default_app()
    elif isinstance(app, str):
        from ._utils import load

        app = load(app)
    if isinstance(app, Lcore) and debug is not None:
        app.config["debug"] = bool(debug)
    if server is None:
        server = _default_server()
    if isinstance(server, str):
        if server not in server_names:
            raise ValueError(f"unknown server {server!r}; choose from {sorted(server_names)}")
        server = server_names[server]
    if isinstance(server, type):
        if workers and server in (GunicornServer,):
            kargs.setdefault("workers", workers)
        elif workers and server in (LcoreASGIServer, UvicornServer):
            kargs.setdefault("workers", workers)
        server = server(host=host, port=port, **kargs)
    if not isinstance(server, ServerAdapter):
        raise ValueError(f"unknown or unsupported server: {server!r}")
    server.quiet = server.quiet or quiet
    if not server.quiet:
        print(f"lcore serving on http://{host}:{server.port}/ with {type(server).__name__}", file=sys.stderr, flush=True)
    _install_sigterm()
    lock = None
    if reloader:
        lockfile = os.environ.get("LCORE_LOCKFILE")
        lock = FileCheckerThread(lockfile, interval) if lockfile else None
        if lock is not None:
            lock.start()
    try:
        server.run(app)
    except KeyboardInterrupt:
        pass
    finally:
        run_shutdown()
    if lock is not None and lock.status == "reload":
        sys.exit(3)


def _install_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def on_term(signum: int, frame: Any) -> None:
        run_shutdown()
        raise KeyboardInterrupt

    try:
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # pragma: no cover - not in the main thread
        pass


class FileCheckerThread(threading.Thread):
    """Watch loaded modules' files; on a change, interrupt the main thread (status 'reload')."""

    def __init__(self, lockfile: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.lockfile, self.interval = lockfile, interval
        self.status: str | None = None

    def run(self) -> None:
        import _thread

        mtime = lambda p: os.stat(p).st_mtime  # noqa: E731
        files = {}
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", "") or ""
            if path[-4:] in (".pyo", ".pyc"):
                path = path[:-1]
            if path and os.path.exists(path):
                files[path] = mtime(path)
        while not self.status:
            if not os.path.exists(self.lockfile) or mtime(self.lockfile) < time.time() - self.interval - 5:
                self.status = "error"
                _thread.interrupt_main()
            for path, lmtime in list(files.items()):
                if not os.path.exists(path) or mtime(path) > lmtime:
                    self.status = "reload"
                    _thread.interrupt_main()
                    break
            time.sleep(self.interval)


def _run_reloader_parent(interval: float) -> None:
    import tempfile

    fd, lockfile = tempfile.mkstemp(prefix="lcore.", suffix=".lock")
    os.close(fd)
    try:
        while os.path.exists(lockfile):
            args = [sys.executable] + sys.argv
            environ = os.environ.copy()
            environ["LCORE_CHILD"] = "true"
            environ["LCORE_LOCKFILE"] = lockfile
            p = subprocess.Popen(args, env=environ)
            while p.poll() is None:
                os.utime(lockfile, None)
                time.sleep(interval)
            if p.returncode != 3:
                if os.path.exists(lockfile):
                    os.unlink(lockfile)
                sys.exit(p.returncode)
    except KeyboardInterrupt:
        pass
    finally:
        if os.path.exists(lockfile):
            os.unlink(lockfile)
