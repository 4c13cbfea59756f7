"""Benchmark lcore's streaming path against Starlette's StreamingResponse, both on uvicorn.

Two workloads, each run against an lcore app and an equivalent Starlette app served by
uvicorn (one worker, h11), rounds interleaved so that machine noise hits both alike:

- SSE fan-out: 100 clients each receive ``--events`` events produced as fast as the
  server sends them (lcore: ``sse()`` with heartbeats on; Starlette: a
  ``StreamingResponse`` of pre-formatted ``data:`` frames). Reported: events/s delivered.
- Download: one client streams ``--mb`` MB (64 KiB chunks) from an async generator and
  from a sync generator. Reported: MB/s.

Clients are raw asyncio sockets (``Connection: close``, read to EOF), so the client is
not the bottleneck. Prints a table and the lcore/starlette ratios. Not a test; run
``python bench/bench_streaming.py [--rounds 3] [--events 2000] [--mb 100]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LCORE_APP = """
from lcore import Lcore, request, sse

app = Lcore()
CHUNK = b"x" * 65536


@app.get("/health")
def health():
    return "ok"


@app.get("/sse")
async def events():
    n = int(request.query.get("n", "100"))

    async def gen():
        for i in range(n):
            yield {"i": i, "msg": "hello"}

    return sse(gen(), heartbeat=15)


@app.get("/download")
async def download():
    chunks = int(request.query.get("mb", "100")) * 16

    async def gen():
        for _ in range(chunks):
            yield CHUNK

    return gen()


@app.get("/download-sync")
def download_sync():
    chunks = int(request.query.get("mb", "100")) * 16

    def gen():
        for _ in range(chunks):
            yield CHUNK

    return gen()
"""

STARLETTE_APP = """
import json

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

CHUNK = b"x" * 65536


async def health(request):
    return PlainTextResponse("ok")


async def events(request):
    n = int(request.query_params.get("n", "100"))

    async def gen():
        for i in range(n):
            yield b"data: " + json.dumps({"i": i, "msg": "hello"}, separators=(",", ":")).encode() + b"\\n\\n"

    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def download(request):
    chunks = int(request.query_params.get("mb", "100")) * 16

    async def gen():
        for _ in range(chunks):
            yield CHUNK

    return StreamingResponse(gen(), media_type="application/octet-stream")


def download_sync(request):
    chunks = int(request.query_params.get("mb", "100")) * 16

    def gen():
        for _ in range(chunks):
            yield CHUNK

    return StreamingResponse(gen(), media_type="application/octet-stream")


async def download_sync_endpoint(request):
    return download_sync(request)


app = Starlette(routes=[
    Route("/health", health),
    Route("/sse", events),
    Route("/download", download),
    Route("/download-sync", download_sync_endpoint),
])
"""

APPS = {
    "lcore": ("bench_lcore_stream", LCORE_APP),
    "starlette": ("bench_starlette_stream", STARLETTE_APP),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, name: str, workdir: Path) -> None:
        module, source = APPS[name]
        (workdir / f"{module}.py").write_text(source)
        self.port = free_port()
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(workdir), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"{module}:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http",
                "h11",
                "--no-access-log",
                "--log-level",
                "warning",
                "--timeout-graceful-shutdown",
                "2",
            ],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{name} server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


async def fetch(port: int, path: str) -> tuple[int, bytes]:
    """GET ``path`` with Connection: close; (total bytes read, the first 64 KiB)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    total, head = 0, b""
    while True:
        data = await reader.read(1 << 20)
        if not data:
            break
        total += len(data)
        if len(head) < 65536:
            head += data[:65536]
    writer.close()
    return total, head


async def fanout(port: int, clients: int, events: int, timeout: float) -> float:
    """Events per second delivered to ``clients`` concurrent SSE clients."""
    t0 = time.perf_counter()
    results = await asyncio.wait_for(
        asyncio.gather(*(fetch_events(port, events) for _ in range(clients))), timeout
    )
    elapsed = time.perf_counter() - t0
    if any(n != events for n in results):
        raise RuntimeError(f"some clients missed events: {sorted(set(results))}")
    return clients * events / elapsed


async def fetch_events(port: int, events: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(
        f"GET /sse?n={events} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode()
    )
    await writer.drain()
    count = 0
    tail = b""
    while True:
        data = await reader.read(1 << 16)
        if not data:
            break
        buf = tail + data
        count += buf.count(b"data: ")
        tail = buf[-5:] if not buf.endswith(b"\n") else b""
        # a "data: " split across reads is counted once: keep only a short tail
        count -= tail.count(b"data: ")
    writer.close()
    return count


async def download(port: int, path: str, mb: int, timeout: float) -> float:
    t0 = time.perf_counter()
    total, _ = await asyncio.wait_for(fetch(port, f"{path}?mb={mb}"), timeout)
    elapsed = time.perf_counter() - t0
    if total < mb * 1024 * 1024:
        raise RuntimeError(f"short download: {total} bytes")
    return total / 1e6 / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=60.0, help="bound for each measurement")
    args = parser.parse_args()

    results: dict[str, dict[str, list[float]]] = {"lcore": {}, "starlette": {}}
    workloads = {
        f"SSE fan-out, {args.clients} clients (events/s)": lambda port: fanout(
            port, args.clients, args.events, args.timeout
        ),
        f"download {args.mb} MB, async gen (MB/s)": lambda port: download(
            port, "/download", args.mb, args.timeout
        ),
        f"download {args.mb} MB, sync gen (MB/s)": lambda port: download(
            port, "/download-sync", args.mb, args.timeout
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        servers = {name: Server(name, Path(tmp)) for name in APPS}
        try:
            for srv in servers.values():  # warm up
                asyncio.run(fetch(srv.port, "/sse?n=10"))
                asyncio.run(fetch(srv.port, "/download?mb=1"))
            for r in range(args.rounds):
                for label, work in workloads.items():
                    for name in ["lcore", "starlette"] if r % 2 == 0 else ["starlette", "lcore"]:
                        value = asyncio.run(work(servers[name].port))
                        results[name].setdefault(label, []).append(value)
                print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            for srv in servers.values():
                srv.stop()

    width = max(len(label) for label in workloads)
    print(
        f"\n{'workload (uvicorn, 1 worker; ' + str(args.rounds) + ' rounds)':<{width}}  "
        f"{'lcore best':>10}  {'starlette':>10}  {'ratio':>6}  {'median ratio':>12}"
    )
    for label in workloads:
        a, b = max(results["lcore"][label]), max(results["starlette"][label])
        ma, mb = (
            statistics.median(results["lcore"][label]),
            statistics.median(results["starlette"][label]),
        )
        print(f"{label:<{width}}  {a:>10.0f}  {b:>10.0f}  {a / b:>6.2f}  {ma / mb:>12.2f}")


if __name__ == "__main__":
    main()
