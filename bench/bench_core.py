"""In-process requests/s: lcore (WSGI and ASGI) next to bottle, falcon and starlette.

Each framework serves the same four scenarios; each app is called directly (no server,
no sockets), so what is measured is the framework. WSGI rows use plain ``def``
handlers, ASGI rows ``async def`` handlers (falcon's ASGI side requires them), and the
``lcore def`` row the ``def`` handlers under ASGI (each hops to a worker thread).
Results are printed as requests/s and as ratios to falcon of the same protocol.

    python bench/bench_core.py [--seconds 1.0] [--repeat 3] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any

PAYLOAD = json.dumps(
    {"items": [{"id": i, "name": f"item-{i:04d}", "tags": ["a", "b"]} for i in range(18)]}
).encode()
assert 900 <= len(PAYLOAD) <= 1200, len(PAYLOAD)

SCENARIOS = {
    "text": ("GET", "/", b""),
    "json-param": ("GET", "/users/42", b""),
    "route-100": ("GET", "/r99/42", b""),
    "post-echo": ("POST", "/echo", PAYLOAD),
}


# -- apps ----------------------------------------------------------------------------


def lcore_app(async_handlers: bool) -> Any:
    from lcore import Lcore, request

    app = Lcore()
    if async_handlers:

        @app.route("/")
        async def index():
            return "Hello, World!"

        @app.route("/users/<id:int>")
        async def user(id):
            return {"id": id, "name": "user"}

        for i in range(100):

            async def r(id, _i=i):
                return {"route": _i, "id": id}

            app.route(f"/r{i}/<id:int>", callback=r)

        @app.post("/echo")
        async def echo():
            return request.json
    else:

        @app.route("/")
        def index():
            return "Hello, World!"

        @app.route("/users/<id:int>")
        def user(id):
            return {"id": id, "name": "user"}

        for i in range(100):

            def r(id, _i=i):
                return {"route": _i, "id": id}

            app.route(f"/r{i}/<id:int>", callback=r)

        @app.post("/echo")
        def echo():
            return request.json

    return app


def bottle_app() -> Any:
    import bottle

    app = bottle.Bottle()

    @app.route("/")
    def index():
        return "Hello, World!"

    @app.route("/users/<id:int>")
    def user(id):
        return {"id": id, "name": "user"}

    for i in range(100):
        app.route(f"/r{i}/<id:int>", callback=lambda id, _i=i: {"route": _i, "id": id})

    @app.post("/echo")
    def echo():
        return bottle.request.json

    return app


def falcon_app(asgi: bool) -> Any:
    import falcon
    import falcon.asgi

    if asgi:

        class Index:
            async def on_get(self, req, resp):
                resp.content_type = falcon.MEDIA_HTML
                resp.text = "Hello, World!"

        class User:
            async def on_get(self, req, resp, id):
                resp.media = {"id": id, "name": "user"}

        class R:
            def __init__(self, i):
                self.i = i

            async def on_get(self, req, resp, id):
                resp.media = {"route": self.i, "id": id}

        class Echo:
            async def on_post(self, req, resp):
                resp.media = await req.get_media()

        app = falcon.asgi.App()
    else:

        class Index:  # type: ignore[no-redef]
            def on_get(self, req, resp):
                resp.content_type = falcon.MEDIA_HTML
                resp.text = "Hello, World!"

        class User:  # type: ignore[no-redef]
            def on_get(self, req, resp, id):
                resp.media = {"id": id, "name": "user"}

        class R:  # type: ignore[no-redef]
            def __init__(self, i):
                self.i = i

            def on_get(self, req, resp, id):
                resp.media = {"route": self.i, "id": id}

        class Echo:  # type: ignore[no-redef]
            def on_post(self, req, resp):
                resp.media = req.get_media()

        app = falcon.App()
    app.add_route("/", Index())
    app.add_route("/users/{id:int}", User())
    for i in range(100):
        app.add_route(f"/r{i}/{{id:int}}", R(i))
    app.add_route("/echo", Echo())
    return app


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    async def index(request):
        return HTMLResponse("Hello, World!")

    async def user(request):
        return JSONResponse({"id": request.path_params["id"], "name": "user"})

    def make(i):
        async def r(request):
            return JSONResponse({"route": i, "id": request.path_params["id"]})

        return r

    async def echo(request):
        return JSONResponse(await request.json())

    routes = [Route("/", index), Route("/users/{id:int}", user)]
    routes += [Route(f"/r{i}/{{id:int}}", make(i)) for i in range(100)]
    routes.append(Route("/echo", echo, methods=["POST"]))
    return Starlette(routes=routes)


def raw_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A hand-written WSGI app doing the minimum for the same scenarios (the ceiling)."""
    path = environ["PATH_INFO"]
    if path == "/":
        body, ctype = b"Hello, World!", "text/html; charset=utf-8"
    elif environ["REQUEST_METHOD"] == "POST":
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body, ctype = (
            json.dumps(json.loads(environ["wsgi.input"].read(n))).encode(),
            "application/json",
        )
    else:
        parts = path.split("/")
        body, ctype = json.dumps({"id": int(parts[2])}).encode(), "application/json"
    start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


# -- drivers -------------------------------------------------------------------------


def _environ(method: str, path: str, body: bytes) -> dict[str, Any]:
    import io

    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "bench",
        "HTTP_ACCEPT": "*/*",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if body:
        env["CONTENT_TYPE"] = "application/json"
        env["CONTENT_LENGTH"] = str(len(body))
    return env


def bench_wsgi(app: Any, method: str, path: str, body: bytes, seconds: float) -> float:
    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"{path}: {status}")

    base = _environ(method, path, body)
    import io

    n = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        for _ in range(200):
            env = dict(base)
            env["wsgi.input"] = io.BytesIO(body)
            result = app(env, start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - t0)


def asgi_scope(method: str, path: str, body: bytes) -> dict[str, Any]:
    """The ``http`` scope of one benchmark request (a JSON body when ``body``)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
        + (
            [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            if body
            else []
        ),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def bench_asgi(app: Any, method: str, path: str, body: bytes, seconds: float) -> float:
    scope = asgi_scope(method, path, body)
    msg = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return msg

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"{path}: {message['status']}")

    async def main() -> float:
        # Lifespan first, so apps that start things there are ready.
        n = 0
        t0 = time.perf_counter()
        deadline = t0 + seconds
        while True:
            for _ in range(200):
                await app(dict(scope), receive, send)
            n += 200
            now = time.perf_counter()
            if now >= deadline:
                return n / (now - t0)

    return asyncio.run(main())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    ap.add_argument("--repeat", type=int, default=3, help="measurements per cell (best is kept)")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = ap.parse_args()

    rows: list[tuple[str, str, Any, Callable[..., float]]] = [
        ("raw", "wsgi", raw_wsgi, bench_wsgi),
        ("falcon", "wsgi", falcon_app(False), bench_wsgi),
        ("bottle", "wsgi", bottle_app(), bench_wsgi),
        ("lcore", "wsgi", lcore_app(False), bench_wsgi),
        ("falcon", "asgi", falcon_app(True), bench_asgi),
        ("starlette", "asgi", starlette_app(), bench_asgi),
        ("lcore", "asgi", lcore_app(True), bench_asgi),
        # The same def handlers as the WSGI row, under ASGI: each request hops to a
        # worker thread (lcore.concurrency), the default for a def handler.
        ("lcore def", "asgi", lcore_app(False), bench_asgi),
    ]
    # Interleave: every round measures every cell once, so a burst of load from
    # elsewhere on the machine hits all frameworks alike; the best round is kept.
    results: dict[tuple[str, str], dict[str, float]] = {(n, p): {} for n, p, _a, _f in rows}
    for rnd in range(args.repeat):
        for name, proto, app, fn in rows:
            cells = results[(name, proto)]
            for scen, (method, path, body) in SCENARIOS.items():
                rate = fn(app, method, path, body, args.seconds)
                cells[scen] = max(cells.get(scen, 0.0), rate)
        print(f"round {rnd + 1}/{args.repeat} done", file=sys.stderr, flush=True)

    header = ["framework", "protocol"] + [f"{s} req/s (x falcon)" for s in SCENARIOS]
    lines = []
    for (name, proto), cells in results.items():
        ref = results[("falcon", proto)]
        row = [name, proto] + [f"{cells[s]:,.0f} ({cells[s] / ref[s]:.2f}x)" for s in SCENARIOS]
        lines.append(row)
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in lines:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(str(r[i])) for r in [header] + lines) for i in range(len(header))]
        for row in [header] + lines:
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
