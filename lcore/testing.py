"""TestClient: call an app in-process, through its WSGI or its ASGI side, with httpx.

``TestClient(app)`` keeps the Lcore interface (``get/post/...`` returning a
``TestResponse`` with ``status``, ``status_code``, ``headers``, ``body``, ``text``,
``json``) and adds ``protocol='wsgi'|'asgi'``. A handler's exception is reported as a
500 response, never raised into the test.

Under ``asgi`` the app runs on an event loop of the client's own, in a thread:
``backend='asyncio'`` (the default, or ``LCORE_TEST_BACKEND``) or ``'trio'``.
"""

from __future__ import annotations

import atexit
import json as _json
import os
import queue
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._extras import require

__all__ = ["TestClient", "TestResponse"]

# The client is httpx; without it, importing TestClient says what to install.
if TYPE_CHECKING:
    import httpx as _httpx
else:
    _httpx = require("httpx", "client", "TestClient")

_BASE_URL = "http://localhost"


class TestResponse:
    """A finished response: status line, code, headers and body."""

    __test__ = False  # not a pytest test class

    def __init__(self, response: Any) -> None:
        self._r = response
        self.status_code: int = response.status_code
        reason = response.reason_phrase or ""
        self.status: str = f"{self.status_code} {reason}".strip()
        self.headers = response.headers
        self.body: bytes = response.content

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf8", "replace")

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return _json.loads(self.body) if self.body else None

    @property
    def cookies(self) -> Any:
        """Cookies set by this response."""
        return self._r.cookies

    def __repr__(self) -> str:
        return f"<TestResponse {self.status}>"


def _wsgi_transport(app: Any, client: tuple[str, int]) -> Any:
    import httpx

    # httpx drops the WSGI reason phrase; keep it (per thread: the transport runs the
    # app in the calling thread) so ``TestResponse.status`` is the line the app sent.
    last = threading.local()

    def safe_app(environ: dict[str, Any], start_response: Any) -> Any:
        # httpx puts the *decoded* path in PATH_INFO; PEP 3333 wants the raw bytes as
        # latin-1, which is what real servers give (and what the app decodes as UTF-8).
        environ["PATH_INFO"] = environ["PATH_INFO"].encode("utf8").decode("latin1")

        def keep_reason(status: str, headers: Any, exc_info: Any = None) -> Any:
            last.reason = status.partition(" ")[2]
            return start_response(status, headers, exc_info)

        try:
            return app(environ, keep_reason)
        except Exception:  # the app's own catchall was off: still answer, as a server would
            body = traceback.format_exc().encode()
            keep_reason(
                "500 Internal Server Error",
                [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
            )
            return [body]

    class _Transport(httpx.WSGITransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            last.reason = ""
            response = super().handle_request(request)
            if last.reason:
                response.extensions["reason_phrase"] = last.reason.encode("latin1")
            return response

    return _Transport(app=safe_app, remote_addr=client[0], raise_app_exceptions=False)


class _ASGITransport:
    """A sync httpx transport that runs an ASGI app on a private event loop thread.

    Response bodies stream: chunks reach the client as the app sends them.
    """

    def __init__(
        self, app: Any, client: tuple[str, int], root_path: str = "", backend: str = "asyncio"
    ) -> None:
        from .concurrency import start_portal

        self.app = app
        self.client = client
        self.root_path = root_path
        self.backend = backend
        self._cm = start_portal(backend)
        self.portal = self._cm.__enter__()
        self._open: set[threading.Event] = set()
        _open_transports.add(self)

    def close(self, cancel: bool = False) -> None:
        """Stop the loop thread; ``cancel`` cancels requests still running instead of
        waiting for them."""
        for ev in list(self._open):
            ev.set()
        cm, self._cm = self._cm, None  # type: ignore[assignment]
        if cm is not None:
            _open_transports.discard(self)
            cm.stop(cancel=cancel)

    def close_within(self, timeout: float) -> None:
        """Stop the loop thread at interpreter exit, cancelling running requests, waiting
        at most ``timeout`` s (a ``def`` handler blocked in a thread is left behind)."""
        for ev in list(self._open):
            ev.set()
        cm, self._cm = self._cm, None  # type: ignore[assignment]
        if cm is not None:
            _open_transports.discard(self)
            cm.stop(cancel=True, timeout=timeout)

    def handle_request(self, request: Any) -> Any:
        import anyio
        import httpx

        url = request.url
        body = request.read()
        path = url.path
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": self.root_path + path,
            "raw_path": (self.root_path + path).encode("utf8")
            if False
            else url.raw_path.split(b"?")[0],
            "root_path": self.root_path,
            "query_string": url.query,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": self.client,
            "server": (url.host, url.port or (443 if url.scheme == "https" else 80)),
            "state": {},
        }
        out: queue.Queue[Any] = queue.Queue()
        disconnect = threading.Event()
        self._open.add(disconnect)
        state = {"sent_body": False}

        async def receive() -> dict[str, Any]:
            if not state["sent_body"]:
                state["sent_body"] = True
                return {"type": "http.request", "body": body, "more_body": False}
            while not disconnect.is_set():
                await anyio.sleep(0.01)
            return {"type": "http.disconnect"}

        async def send(msg: dict[str, Any]) -> None:
            out.put(msg)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except BaseException as e:  # noqa: BLE001 - reported to the client side
                out.put({"type": "lcore.error", "exc": e, "tb": traceback.format_exc()})
            finally:
                out.put({"type": "lcore.done"})
                self._open.discard(disconnect)

        future = self.portal.start_task_soon(run)
        msg = out.get()
        if msg["type"] != "http.response.start":
            disconnect.set()
            text = msg.get("tb", "app finished without sending a response").encode()
            return httpx.Response(500, headers=[("content-type", "text/plain")], content=text)
        headers = [(k, v) for k, v in msg.get("headers", [])]
        stream = _QueueStream(out, disconnect, future, request.method == "HEAD")
        return httpx.Response(int(msg["status"]), headers=headers, stream=stream)


class _QueueStream(_httpx.SyncByteStream):
    def __init__(
        self, out: queue.Queue[Any], disconnect: threading.Event, future: Any, head: bool
    ) -> None:
        self.out = out
        self.disconnect = disconnect
        self.future = future
        self.done = False

    def __iter__(self) -> Iterator[bytes]:
        while not self.done:
            msg = self.out.get()
            t = msg["type"]
            if t == "http.response.body":
                chunk = msg.get("body", b"")
                if chunk:
                    yield chunk
                if not msg.get("more_body", False):
                    self.done = True
            elif t == "lcore.error":
                self.done = True
                raise RuntimeError(f"the app failed while streaming:\n{msg.get('tb', '')}")
            elif t == "lcore.done":
                self.done = True

    def close(self) -> None:
        self.disconnect.set()
        try:
            self.future.result(timeout=10)
        except Exception:  # noqa: BLE001 - the app's error was already reported
            pass


class TestClient:
    """Send requests to an app in-process; ``protocol`` picks its WSGI or ASGI side.

    Cookies set by responses are kept and sent back, like a browser.
    """

    __test__ = False

    def __init__(
        self,
        app: Any,
        protocol: str = "wsgi",
        base_url: str = _BASE_URL,
        client: tuple[str, int] = ("127.0.0.1", 50000),
        backend: str | None = None,
    ) -> None:
        import httpx

        from .concurrency import BACKENDS

        if protocol not in ("wsgi", "asgi"):
            raise ValueError("protocol must be 'wsgi' or 'asgi'")
        backend = backend or os.environ.get("LCORE_TEST_BACKEND") or "asyncio"
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self.app = app
        self.protocol = protocol
        #: The event loop library the ASGI side runs on (``'asyncio'`` or ``'trio'``).
        self.backend = backend
        if protocol == "wsgi":
            transport: Any = _wsgi_transport(app, client)
            self._asgi: _ASGITransport | None = None
        else:
            self._asgi = _ASGITransport(app, client, root_path="", backend=backend)
            transport = _SyncAdapter(self._asgi)
        self._http = httpx.Client(
            transport=transport, base_url=base_url, follow_redirects=False, timeout=30.0
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str = b"",
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        query_string: str | dict[str, Any] = "",
        content_type: str | None = None,
        json: Any = None,
        **kwargs: Any,
    ) -> TestResponse:
        """Send one request and return the finished :class:`TestResponse`."""
        with self.stream(
            method, path, body, headers, query_string, content_type, json, **kwargs
        ) as r:
            r.read()
            return TestResponse(r)

    def stream(
        self,
        method: str,
        path: str,
        body: Any = b"",
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        query_string: str | dict[str, Any] = "",
        content_type: str | None = None,
        json: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Send a request and stream the response (an httpx streaming context manager).

        ``body`` is bytes, str, or an iterable of bytes (sent with chunked encoding).
        """
        import httpx

        hdrs = httpx.Headers(headers or {})
        if json is not None:
            body = _json.dumps(json).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if content_type:
            hdrs["Content-Type"] = content_type
        if isinstance(body, str):
            body = body.encode("utf8")
        url = path
        if query_string:
            if isinstance(query_string, dict):
                from urllib.parse import urlencode

                query_string = urlencode(query_string, doseq=True)
            url = path + ("&" if "?" in path else "?") + query_string.lstrip("?")
        parts = urlsplit(url)
        if parts.scheme:
            url = parts.path + ("?" + parts.query if parts.query else "")
        if not isinstance(body, (bytes, bytearray)):
            content: Any = body  # an iterable of bytes: sent chunked
        else:
            content = body if body or method.upper() not in ("GET", "HEAD", "OPTIONS") else None
        return self._http.stream(method.upper(), url, content=content, headers=hdrs, **kwargs)

    def get(self, path: str, **kw: Any) -> TestResponse:
        """Send a GET request."""
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, body: bytes | str = b"", **kw: Any) -> TestResponse:
        """Send a POST request (``json=`` sets the body and Content-Type)."""
        return self.request("POST", path, body=body, json=json, **kw)

    def put(self, path: str, json: Any = None, body: bytes | str = b"", **kw: Any) -> TestResponse:
        """Send a PUT request."""
        return self.request("PUT", path, body=body, json=json, **kw)

    def patch(
        self, path: str, json: Any = None, body: bytes | str = b"", **kw: Any
    ) -> TestResponse:
        """Send a PATCH request."""
        return self.request("PATCH", path, body=body, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> TestResponse:
        """Send a DELETE request."""
        return self.request("DELETE", path, **kw)

    def head(self, path: str, **kw: Any) -> TestResponse:
        """Send a HEAD request."""
        return self.request("HEAD", path, **kw)

    def options(self, path: str, **kw: Any) -> TestResponse:
        """Send an OPTIONS request."""
        return self.request("OPTIONS", path, **kw)

    def websocket_connect(
        self, path: str, headers: Any = None, subprotocols: list[str] | None = None, **kw: Any
    ) -> Any:
        """Open a WebSocket session to the app (``with client.websocket_connect('/ws') as ws:``).

        Under ``asgi`` it drives the ASGI ``websocket`` scope; under ``wsgi`` the
        side-by-side WebSocket runtime. See ``lcore_ws.testing``.
        """
        from lcore_ws.testing import connect

        return connect(self, path, headers=headers, subprotocols=subprotocols, **kw)

    @property
    def cookies(self) -> Any:
        """The client's cookie jar."""
        return self._http.cookies

    def close(self) -> None:
        """Close the client (and the ASGI side's event loop thread)."""
        self._http.close()
        if self._asgi is not None:
            self._asgi.close()
            self._asgi = None

    def __enter__(self) -> TestClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        asgi = getattr(self, "_asgi", None)
        if asgi is None or sys.is_finalizing():
            # At finalization the loop thread is frozen: waiting for it would hang the
            # exit (the atexit hook below closed what it could while it still ran).
            return
        self._asgi = None
        # Never block the collecting thread (the app may be stuck): close in the background.
        threading.Thread(
            target=_close_quietly, args=(asgi,), name="lcore-testclient-close", daemon=True
        ).start()


#: ASGI transports not closed yet: closed at interpreter exit, while threads still run.
_open_transports: weakref.WeakSet[_ASGITransport] = weakref.WeakSet()


def _close_quietly(transport: _ASGITransport, cancel: bool = False) -> None:
    try:
        transport.close(cancel=cancel)
    except Exception:  # noqa: BLE001 - best effort at garbage collection / exit
        pass


def _close_open_transports() -> None:
    """Close the clients a program never closed, without ever hanging its exit: running
    requests are cancelled, and one that cannot be (a ``def`` handler blocked in a
    thread) is left behind after a bounded wait."""
    from .concurrency import EXIT_TIMEOUT

    deadline = time.monotonic() + EXIT_TIMEOUT
    for t in list(_open_transports):
        t.close_within(max(0.0, deadline - time.monotonic()))


atexit.register(_close_open_transports)


class _SyncAdapter:
    """Make :class:`_ASGITransport` an ``httpx.BaseTransport``."""

    def __new__(cls, inner: _ASGITransport) -> Any:
        import httpx

        class _T(httpx.BaseTransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                return inner.handle_request(request)

            def close(self) -> None:
                pass

        return _T()
