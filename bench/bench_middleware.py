"""Cost of the production middleware stack: requests/s with it relative to the bare app.

The stack is the one from the Lcore docs ("Production Deployment"): BodyLimit,
RequestID, RequestLogger (its logger writes to a NullHandler), SecurityHeaders(hsts=True)
and CORS(allow_origins=['https://myapp.com'], allow_credentials=True). Each app is
called in-process (no server, no sockets), under WSGI and under ASGI, with an allowed
``Origin`` so CORS does its work. Next to lcore, the same ratio for the older,
single-file, WSGI-only Lcore from PyPI (downloaded with ``pip download --no-deps`` into
a temp dir and imported under another module name; never installed).

    python bench/bench_middleware.py [--seconds 1.0] [--repeat 3] [--markdown]
                                     [--old-version 0.0.5] [--old-path lcore.py]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import importlib.util
import io
import json
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from typing import Any

ORIGIN = "https://myapp.com"
PAYLOAD = json.dumps(
    {"items": [{"id": i, "name": f"item-{i:04d}", "tags": ["a", "b"]} for i in range(18)]}
).encode()
SCENARIOS = {
    "get-json": ("GET", "/api/data", b""),
    "post-echo": ("POST", "/echo", PAYLOAD),
}


# -- apps ----------------------------------------------------------------------------------


def _null_logger() -> logging.Logger:
    log = logging.getLogger("bench.http")
    log.handlers[:] = [logging.NullHandler()]
    log.propagate = False
    log.setLevel(logging.INFO)  # the record is still built and handled, only not written
    return log


def build_app(mod: Any, stack: bool, async_handlers: bool) -> Any:
    """The same two routes on ``mod.Lcore``; with ``stack`` the production middleware."""
    app = mod.Lcore()
    request = mod.request
    if async_handlers:

        async def data():
            return {"items": [1, 2, 3], "status": "ok"}

        async def echo():
            return request.json
    else:

        def data():  # type: ignore[misc]
            return {"items": [1, 2, 3], "status": "ok"}

        def echo():  # type: ignore[misc]
            return request.json

    app.route("/api/data", "GET", data)
    app.route("/echo", "POST", echo)
    if stack:
        app.use(mod.BodyLimitMiddleware(max_size=5 * 1024 * 1024))
        app.use(mod.RequestIDMiddleware())
        app.use(mod.RequestLoggerMiddleware(logger=_null_logger()))
        app.use(mod.SecurityHeadersMiddleware(hsts=True))
        app.use(mod.CORSMiddleware(allow_origins=[ORIGIN], allow_credentials=True))
    return app


def load_old_lcore(version: str | None, path: str | None) -> tuple[Any, str] | None:
    """The older Lcore as module ``lcore_old`` (from ``path`` or PyPI), or None."""
    if path is None:
        tmp = tempfile.mkdtemp(prefix="lcore-old-")
        spec = f"lcore=={version}" if version else "lcore<0.1"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":none:",
                "-d",
                tmp,
                spec,
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            print(f"could not download {spec}: {proc.stderr.strip()[-300:]}", file=sys.stderr)
            return None
        for wheel in glob.glob(os.path.join(tmp, "*.whl")):
            with zipfile.ZipFile(wheel) as z:
                z.extract("lcore.py", tmp)
        for sdist in glob.glob(os.path.join(tmp, "*.tar.gz")):
            with tarfile.open(sdist) as t:
                member = next(m for m in t.getmembers() if m.name.endswith("/lcore.py"))
                member.name = "lcore.py"
                t.extract(member, tmp, filter="data")
        path = os.path.join(tmp, "lcore.py")
    spec_ = importlib.util.spec_from_file_location("lcore_old", path)
    assert spec_ is not None and spec_.loader is not None
    mod = importlib.util.module_from_spec(spec_)
    sys.modules["lcore_old"] = mod
    spec_.loader.exec_module(mod)
    return mod, str(getattr(mod, "__version__", version or "?"))


# -- drivers ---------------------------------------------------------------------------------


def _environ(method: str, path: str, body: bytes) -> dict[str, Any]:
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
        "HTTP_ORIGIN": ORIGIN,
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


def bench_wsgi(app: Any, method: str, path: str, body: bytes, seconds: float, stack: bool) -> float:
    seen: list[list[Any]] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"{path}: {status}")
        if not seen:
            seen.append(headers)

    base = _environ(method, path, body)
    n = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        for _ in range(100):
            env = dict(base)
            env["wsgi.input"] = io.BytesIO(body)
            result = app(env, start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        n += 100
        now = time.perf_counter()
        if now >= deadline:
            _check_headers(seen[0], stack)
            return n / (now - t0)


def bench_asgi(app: Any, method: str, path: str, body: bytes, seconds: float, stack: bool) -> float:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"bench"),
            (b"accept", b"*/*"),
            (b"origin", ORIGIN.encode()),
        ]
        + (
            [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            if body
            else []
        ),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    msg = {"type": "http.request", "body": body, "more_body": False}
    seen: list[list[Any]] = []

    async def receive() -> dict[str, Any]:
        return msg

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            if message["status"] != 200:
                raise RuntimeError(f"{path}: {message['status']}")
            if not seen:
                seen.append([(k.decode(), v.decode()) for k, v in message["headers"]])

    async def main() -> float:
        n = 0
        t0 = time.perf_counter()
        deadline = t0 + seconds
        while True:
            for _ in range(100):
                await app(dict(scope), receive, send)
            n += 100
            now = time.perf_counter()
            if now >= deadline:
                _check_headers(seen[0], stack)
                return n / (now - t0)

    return asyncio.run(main())


def _check_headers(headers: list[tuple[str, str]], stack: bool) -> None:
    """The stack really ran: request ID, HSTS and the CORS answer are on the response."""
    names = {k.lower(): v for k, v in headers}
    want = {"x-request-id", "strict-transport-security", "access-control-allow-origin"}
    if stack and not want <= set(names):
        raise RuntimeError(f"middleware headers missing: {sorted(want - set(names))}")
    if not stack and want & set(names):
        raise RuntimeError("the bare app sent middleware headers")


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    ap.add_argument("--repeat", type=int, default=3, help="rounds (the best of each cell is kept)")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    ap.add_argument(
        "--old-version", default="0.0.5", help="the older Lcore from PyPI to compare with"
    )
    ap.add_argument("--old-path", default=None, help="a local lcore.py of the older Lcore instead")
    args = ap.parse_args()

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import lcore

    old = load_old_lcore(args.old_version, args.old_path)
    cells: list[tuple[str, str, Callable[..., float], Any, Any]] = [
        (
            f"lcore {lcore.__version__}",
            "wsgi",
            bench_wsgi,
            build_app(lcore, False, False),
            build_app(lcore, True, False),
        ),
        (
            f"lcore {lcore.__version__}",
            "asgi",
            bench_asgi,
            build_app(lcore, False, True),
            build_app(lcore, True, True),
        ),
    ]
    if old is not None:
        mod, version = old
        cells.append(
            (
                f"Lcore {version} (PyPI)",
                "wsgi",
                bench_wsgi,
                build_app(mod, False, False),
                build_app(mod, True, False),
            )
        )
    # Interleaved rounds: every cell is measured once per round, bare and stack back to
    # back, so machine noise hits both sides of a ratio alike; the best round is kept.
    best: dict[tuple[str, str, str, bool], float] = {}
    for rnd in range(args.repeat):
        for name, proto, fn, bare, stacked in cells:
            for scen, (method, path, body) in SCENARIOS.items():
                for is_stack, app in ((False, bare), (True, stacked)):
                    key = (name, proto, scen, is_stack)
                    best[key] = max(
                        best.get(key, 0.0), fn(app, method, path, body, args.seconds, is_stack)
                    )
        print(f"round {rnd + 1}/{args.repeat} done", file=sys.stderr, flush=True)

    header = ["framework", "protocol", "scenario", "bare req/s", "with stack req/s", "stack / bare"]
    rows = []
    for name, proto, _fn, _b, _s in cells:
        for scen in SCENARIOS:
            bare, stacked = best[(name, proto, scen, False)], best[(name, proto, scen, True)]
            rows.append(
                [name, proto, scen, f"{bare:,.0f}", f"{stacked:,.0f}", f"{stacked / bare:.2f}"]
            )
    if old is None:
        rows.append(
            [f"Lcore {args.old_version} (PyPI)", "wsgi", "-", "n/a", "n/a", "not downloaded"]
        )
    rows.append(["older Lcore", "asgi", "-", "-", "-", "no ASGI side"])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
        for row in [header] + rows:
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
