"""Benchmark lcore's embedded server side by side with uvicorn, granian, hypercorn, gunicorn.

One session, bounded load, servers taking turns round by round (so a noisy minute on a
shared machine does not land on one of them only):

- apps: ``raw`` (a bare ASGI/WSGI callable), ``def`` (an lcore app whose handler is a
  ``def``), ``inline`` (the same ``def`` declared ``blocking=False``) and ``async`` (an
  ``async def`` handler); each answers ``GET /users/123`` with a small JSON object;
- servers: the embedded server with each HTTP/1.1 driver (h11, httptools) on each loop
  (asyncio, uvloop); uvicorn (h11, and ``[standard]``: httptools + uvloop); granian
  (asgi, wsgi); hypercorn; gunicorn gthread (WSGI); one worker each;
- load: ``wrk`` (HTTP/1.1 keep-alive) and, for the raw app, ``h2load -m10`` (h2c) on
  the servers that speak it.

Prints req/s, p50 and p99 per cell (the median run of the rounds, and the spread), the
server's CPU time per request (user + system of its whole process group, from /proc:
steadier than req/s on a shared machine), and each cell's ratio to uvicorn[standard]
and to granian (asgi for ASGI servers, wsgi for WSGI ones). Not a test: ``python bench/bench_server.py [--duration 5] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATH = "/users/123"

APP = """
import json

from lcore import Lcore

_BODY = json.dumps({"id": 123, "name": "user-123"}).encode()


async def raw_asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(_BODY))],
    })
    await send({"type": "http.response.body", "body": _BODY})


def raw_wsgi(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(_BODY)))])
    return [_BODY]


def_app = Lcore()
inline_app = Lcore()
async_app = Lcore()


@def_app.get("/users/<user_id:int>")
def user_def(user_id):
    return {"id": user_id, "name": f"user-{user_id}"}


@inline_app.get("/users/<user_id:int>", blocking=False)
def user_inline(user_id):
    return {"id": user_id, "name": f"user-{user_id}"}


@async_app.get("/users/<user_id:int>")
async def user_async(user_id):
    return {"id": user_id, "name": f"user-{user_id}"}
"""

#: app name -> (ASGI callable, WSGI callable) in benchapp.py
APPS = {
    "raw": ("raw_asgi", "raw_wsgi"),
    "def": ("def_app", "def_app"),
    "inline": ("inline_app", "inline_app"),
    "async": ("async_app", "async_app"),
}


def _lcore(http: str, loop: str):
    return lambda port, app: [
        sys.executable, "-m", "lcore_asgi", f"benchapp:{app}", "--port", str(port),
        "--http", http, "--loop", loop, "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def _uvicorn(http: str, loop: str):
    return lambda port, app: [
        sys.executable, "-m", "uvicorn", f"benchapp:{app}", "--port", str(port),
        "--http", http, "--loop", loop, "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def _granian(interface: str):
    return lambda port, app: [
        sys.executable, "-m", "granian", "--interface", interface, "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1", "--log-level", "warning", f"benchapp:{app}",
    ]  # fmt: skip


#: server name -> (command builder, "asgi" | "wsgi", speaks h2c)
SERVERS = {
    "lcore h11 asyncio": (_lcore("h11", "asyncio"), "asgi", True),
    "lcore h11 uvloop": (_lcore("h11", "uvloop"), "asgi", True),
    "lcore httptools asyncio": (_lcore("httptools", "asyncio"), "asgi", True),
    "lcore httptools uvloop": (_lcore("httptools", "uvloop"), "asgi", True),
    "uvicorn h11": (_uvicorn("h11", "asyncio"), "asgi", False),
    "uvicorn[standard]": (_uvicorn("httptools", "uvloop"), "asgi", False),
    "granian asgi": (_granian("asgi"), "asgi", False),
    "granian wsgi": (_granian("wsgi"), "wsgi", False),
    "hypercorn": (
        lambda port, app: [
            sys.executable,
            "-m",
            "hypercorn",
            f"benchapp:{app}",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],  # fmt: skip
        "asgi",
        True,
    ),
    "gunicorn gthread": (
        lambda port, app: [
            sys.executable,
            "-m",
            "gunicorn",
            "-k",
            "gthread",
            "--threads",
            "8",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            f"benchapp:{app}",
        ],  # fmt: skip
        "wsgi",
        False,
    ),
}
BASELINES = ("uvicorn[standard]", "granian")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start listening")


Result = tuple[float, float, float, float]  # req/s, p50 ms, p99 ms, server CPU µs/request
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by every process of group ``pgid`` (Linux)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / _TICK


def run_wrk(port: int, duration: int, threads: int, connections: int, pgid: int) -> Result:
    cpu = group_cpu_seconds(pgid)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            f"http://127.0.0.1:{port}{PATH}",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=duration + 30,
    ).stdout
    cpu = group_cpu_seconds(pgid) - cpu
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses")
    rps = float(_search(r"Requests/sec:\s+([\d.]+)", out))
    p50 = _to_ms(_search(r"\s50%\s+([\d.]+\w+)", out))
    p99 = _to_ms(_search(r"\s99%\s+([\d.]+\w+)", out))
    requests = int(_search(r"(\d+) requests in", out))
    return rps, p50, p99, cpu / max(requests, 1) * 1e6


def _search(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"no {pattern!r} in the tool's output:\n{text}")
    return match.group(1)


def _to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(\w+)", value)
    assert match is not None
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_h2load(port: int, duration: int, clients: int, streams: int, pgid: int) -> Result:
    cpu = group_cpu_seconds(pgid)
    with tempfile.NamedTemporaryFile("r", suffix=".log") as log:
        out = subprocess.run(
            [
                "h2load",
                "-c",
                str(clients),
                "-m",
                str(streams),
                "-t",
                "1",
                "-D",
                str(duration),
                "--warm-up-time",
                "1",
                "--log-file",
                log.name,
                f"http://127.0.0.1:{port}{PATH}",
            ],  # fmt: skip
            capture_output=True,
            text=True,
            timeout=duration + 30,
        ).stdout
        durations = sorted(int(line.split("\t")[2]) for line in log if line.strip())
    cpu = group_cpu_seconds(pgid) - cpu
    rate = float(_search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out))
    failed = re.search(r"(\d+) failed, (\d+) errored", out)
    if not durations:
        raise RuntimeError("h2load produced no result:\n" + out)
    if failed and (int(failed.group(1)) or int(failed.group(2))):
        print(f"  warning: h2load reported failures: {failed.group(0)}", file=sys.stderr)

    def pick(q: float) -> float:
        return durations[min(len(durations) - 1, int(len(durations) * q))] / 1000.0

    done = int(_search(r"requests: \d+ total, \d+ started, (\d+) done", out))
    return rate, pick(0.5), pick(0.99), cpu / max(done, 1) * 1e6


def bench(server: str, app: str, app_dir: str, args: argparse.Namespace) -> dict[str, Result]:
    """Start ``server`` on ``app``, warm it up, measure; stop it by its pid."""
    command, interface, h2c = SERVERS[server]
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), app_dir]))
    callable_name = APPS[app][0 if interface == "asgi" else 1]
    process = subprocess.Popen(
        command(port, callable_name),
        cwd=app_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    results: dict[str, Result] = {}
    try:
        wait_listening(port, process)
        time.sleep(0.5)
        run_wrk(port, 1, args.threads, args.connections, process.pid)  # warm-up
        results["h1"] = run_wrk(port, args.duration, args.threads, args.connections, process.pid)
        if h2c and app == "raw" and args.h2 and shutil.which("h2load"):
            results["h2"] = run_h2load(port, args.duration, args.h2_clients, 10, process.pid)
    finally:
        _stop(process)
    return results


def _stop(process: subprocess.Popen) -> None:
    """Stop the server's process group (it was started in its own session)."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--h2-clients", type=int, default=16, help="h2load clients (-c)")
    parser.add_argument("--no-h2", dest="h2", action="store_false", help="skip h2load")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated")
    parser.add_argument("--apps", default=",".join(APPS), help="comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median counts")
    args = parser.parse_args()
    for tool in ("wrk", "h2load"):
        if not shutil.which(tool):
            print(f"note: {tool} not found; its column is skipped", file=sys.stderr)
    servers = [s for s in args.servers.split(",") if s]
    apps = [a for a in args.apps.split(",") if a]
    runs: dict[tuple[str, str, str], list[Result]] = {}
    with tempfile.TemporaryDirectory() as app_dir:
        Path(app_dir, "benchapp.py").write_text(APP)
        for round_number in range(1, args.rounds + 1):
            for app in apps:
                for server in servers:
                    print(f"round {round_number}: {app} app on {server} ...", file=sys.stderr)
                    for attempt in (1, 2):  # a port taken meanwhile: once more
                        try:
                            measured = bench(server, app, app_dir, args)
                            break
                        except (RuntimeError, subprocess.TimeoutExpired) as exc:
                            print(f"  failed ({attempt}): {exc}", file=sys.stderr)
                            measured = {}
                    for key, result in measured.items():
                        runs.setdefault((key, app, server), []).append(result)
    print_tables(runs, servers, apps, args)


def _median(results: list[Result]) -> Result:
    ordered = sorted(results)
    return ordered[len(ordered) // 2]


def _baseline(runs: dict, key: str, app: str, name: str, interface: str) -> float | None:
    if name == "granian":
        name = f"granian {interface}"
    results = runs.get((key, app, name))
    return _median(results)[0] if results else None


def print_tables(runs: dict, servers: list[str], apps: list[str], args: argparse.Namespace) -> None:
    print(
        f"\nwrk -t{args.threads} -c{args.connections} -d{args.duration}s GET {PATH} "
        f"(HTTP/1.1 keep-alive); h2load -c{args.h2_clients} -m10 -D{args.duration} (h2c); "
        f"1 worker each; median of {args.rounds} rounds (spread: min-max req/s)\n"
    )
    for key, title in (("h1", "HTTP/1.1"), ("h2", "h2c (raw app)")):
        rows = [(a, s) for a in apps for s in servers if (key, a, s) in runs]
        if not rows:
            continue
        print(f"### {title}\n")
        print(
            "| app | server | req/s | spread | p50 ms | p99 ms | CPU µs/req "
            "| × uvicorn[standard] | × granian |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for app, server in rows:
            results = runs[(key, app, server)]
            rate, p50, p99, cpu = _median(results)
            low, high = min(r[0] for r in results), max(r[0] for r in results)
            interface = SERVERS[server][1]
            ratios = []
            for name in BASELINES:
                base = _baseline(runs, key, app, name, interface)
                ratios.append(f"{rate / base:.2f}" if base else "n/a")
            print(
                f"| {app} | {server} | {rate:,.0f} | {low:,.0f}–{high:,.0f} | {p50:.2f} | "
                f"{p99:.2f} | {cpu:.0f} | {ratios[0]} | {ratios[1]} |"
            )
        print()
    for server in servers:
        def_rate = runs.get(("h1", "def", server))
        async_rate = runs.get(("h1", "async", server))
        inline_rate = runs.get(("h1", "inline", server))
        if def_rate and async_rate:
            line = f"{server}: def / async x{_median(def_rate)[0] / _median(async_rate)[0]:.2f}"
            if inline_rate:
                line += (
                    f", inline def / async x{_median(inline_rate)[0] / _median(async_rate)[0]:.2f}"
                )
            print(line)


if __name__ == "__main__":
    main()
