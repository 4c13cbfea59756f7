"""Benchmark WebSockets: lcore and Starlette under uvicorn and hypercorn, and lcore on its own server.

Five setups serve the same echo endpoint, each on one worker, on 127.0.0.1:

- ``starlette@uvicorn``: a Starlette ``WebSocketRoute`` (the reference);
- ``lcore@uvicorn``: an ``@app.websocket`` handler, ASGI ``websocket`` scope;
- ``lcore@lcore``: the same app on lcore's embedded server (sans-I/O ``websockets``);
- ``starlette@hypercorn`` and ``lcore@hypercorn``: both apps under hypercorn, its one
  worker in the process started (``-w 0``) on uvloop (``-k uvloop``), as uvicorn and lcore
  pick uvloop when it is installed.

Measured per setup, in interleaved rounds (machine noise hits every setup alike):

1. echo round trips/s: ``--clients`` connections each send a message and wait for the
   echo, for ``--duration`` seconds;
2. memory: RSS of the server process after ``--idle`` connections are open and idle,
   minus RSS before them (every connection did one echo first, so it is fully set up).

The client is the ``websockets`` asyncio client (which offers permessage-deflate, as
browsers do). Each server negotiates it with its own defaults, and its zlib state is part
of the memory measured: uvicorn (``websockets`` sans-I/O) and lcore use 4 KiB windows
(``max_window_bits=12``, ``memLevel=5``); hypercorn (``wsproto``) uses zlib's defaults
(32 KiB windows, ``memLevel=8``). Prints a table, ratios against starlette@uvicorn, and
the memory of each setup against the same app on uvicorn (lcore@lcore against
lcore@uvicorn). Every server is stopped by its pid. Not a test::

    python bench/bench_ws.py [--duration 5] [--clients 50] [--idle 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

APP = """
from lcore import Lcore
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

lcore_app = Lcore()


@lcore_app.route("/health")
def health():
    return "ok"


@lcore_app.websocket("/echo")
async def echo(ws):
    await ws.accept()
    async for message in ws:
        await ws.send(message)


async def star_echo(websocket):
    await websocket.accept()
    try:
        while True:
            msg = await websocket.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("text") is not None:
                await websocket.send_text(msg["text"])
            else:
                await websocket.send_bytes(msg["bytes"])
    except Exception:
        return


starlette_app = Starlette(routes=[WebSocketRoute("/echo", star_echo)])
"""


def _hypercorn(app: str, port: int) -> list[str]:
    # One worker, in the process we start (``--workers 0``; 1 would spawn a child, whose
    # RSS we would not read), no access log (the default), uvloop as the others.
    return [
        sys.executable,
        "-m",
        "hypercorn",
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "0",
        "--worker-class",
        "uvloop",
        "--log-level",
        "warning",
    ]


SETUPS = {
    "starlette@uvicorn": lambda port: [
        sys.executable,
        "-m",
        "uvicorn",
        "benchws:starlette_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ],
    "lcore@uvicorn": lambda port: [
        sys.executable,
        "-m",
        "uvicorn",
        "benchws:lcore_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ],
    "lcore@lcore": lambda port: [
        sys.executable,
        "-m",
        "lcore_asgi",
        "benchws:lcore_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ],
    "starlette@hypercorn": lambda port: _hypercorn("benchws:starlette_app", port),
    "lcore@hypercorn": lambda port: _hypercorn("benchws:lcore_app", port),
}
REFERENCE = "starlette@uvicorn"
#: The same app on uvicorn, for the "vs uvicorn" memory column.
ON_UVICORN = {
    "starlette@uvicorn": "starlette@uvicorn",
    "lcore@uvicorn": "lcore@uvicorn",
    "lcore@lcore": "lcore@uvicorn",
    "starlette@hypercorn": "starlette@uvicorn",
    "lcore@hypercorn": "lcore@uvicorn",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Running:
    def __init__(self, name: str, workdir: str) -> None:
        self.port = free_port()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([workdir, str(ROOT), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen(
            SETUPS[name](self.port),
            cwd=workdir,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server we started, by its pid."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


async def echo_rate(port: int, clients: int, duration: float) -> float:
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{port}/echo"
    conns = [await connect(url) for _ in range(clients)]
    count = 0
    stop_at = time.monotonic() + duration

    async def run(ws) -> None:
        nonlocal count
        message = "x" * 64
        while time.monotonic() < stop_at:
            await ws.send(message)
            await ws.recv()
            count += 1

    for ws in conns:  # warm up
        await ws.send("w")
        await ws.recv()
    started = time.monotonic()
    await asyncio.gather(*(run(ws) for ws in conns))
    elapsed = time.monotonic() - started
    await asyncio.gather(*(ws.close() for ws in conns))
    return count / elapsed


async def idle_memory(server: Running, n: int) -> float:
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{server.port}/echo"
    warm = [await connect(url) for _ in range(10)]
    for ws in warm:
        await ws.send("w")
        await ws.recv()
    await asyncio.sleep(0.5)
    before = rss_kib(server.proc.pid)
    conns = []
    sem = asyncio.Semaphore(100)

    async def open_one() -> None:
        async with sem:
            ws = await connect(url, open_timeout=30)
            await ws.send("hello")
            await ws.recv()
            conns.append(ws)

    await asyncio.gather(*(open_one() for _ in range(n)))
    await asyncio.sleep(1.0)
    after = rss_kib(server.proc.pid)
    await asyncio.gather(*(ws.close() for ws in conns + warm))
    return (after - before) / 1024.0


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--idle", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    rates: dict[str, list[float]] = {name: [] for name in SETUPS}
    mems: dict[str, list[float]] = {name: [] for name in SETUPS}
    with tempfile.TemporaryDirectory() as workdir:
        Path(workdir, "benchws.py").write_text(APP)
        for rnd in range(args.rounds):
            for name in SETUPS:
                server = Running(name, workdir)
                try:
                    rates[name].append(
                        asyncio.run(echo_rate(server.port, args.clients, args.duration))
                    )
                finally:
                    server.stop()
                server = Running(name, workdir)  # a fresh process for the memory measure
                try:
                    mems[name].append(asyncio.run(idle_memory(server, args.idle)))
                finally:
                    server.stop()
                print(
                    f"round {rnd + 1}: {name:18} {rates[name][-1]:9.0f} rt/s  {mems[name][-1]:6.1f} MiB",
                    file=sys.stderr,
                )
    ref_rate = statistics.median(rates[REFERENCE])
    ref_mem = statistics.median(mems[REFERENCE])
    print(
        f"\nWebSocket echo, {args.clients} clients x {args.duration:.0f}s; RSS delta of {args.idle} idle "
        f"connections; median of {args.rounds} interleaved rounds, one worker each.\n"
    )
    print(
        f"| setup | round trips/s | vs {REFERENCE} | RSS delta (MiB) | per connection (KiB) "
        f"| vs {REFERENCE} | vs same app on uvicorn |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in SETUPS:
        rate = statistics.median(rates[name])
        mem = statistics.median(mems[name])
        same = statistics.median(mems[ON_UVICORN[name]])
        print(
            f"| {name} | {rate:,.0f} | {rate / ref_rate:.2f}x | {mem:.1f} | {mem * 1024 / args.idle:.1f} | "
            f"{_ratio(mem, ref_mem)} | {_ratio(mem, same)} |"
        )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


if __name__ == "__main__":
    main()
