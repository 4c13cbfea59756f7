"""Benchmark lcore's embedded ASGI server against uvicorn (h11) and hypercorn.

Runs the SAME raw ASGI hello-world app under each server, one after the other, with
bounded load: ``wrk`` (HTTP/1.1 keep-alive) and ``h2load`` (h2c prior knowledge, ``-m 10``).
Prints requests/s and p99 latency per server and the ratios lcore/uvicorn and
lcore/hypercorn. Not a test; run ``python bench/bench_server.py [--duration 5]``.
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

APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
    })
    await send({"type": "http.response.body", "body": b"Hello, world!"})
"""

SERVERS = {
    "lcore": lambda port: [
        sys.executable,
        "-m",
        "lcore_asgi",
        "benchapp:app",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ],
    "uvicorn": lambda port: [
        sys.executable,
        "-m",
        "uvicorn",
        "benchapp:app",
        "--port",
        str(port),
        "--http",
        "h11",
        "--no-access-log",
        "--log-level",
        "warning",
    ],
    "hypercorn": lambda port: [
        sys.executable,
        "-m",
        "hypercorn",
        "benchapp:app",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ],
}
H2_CAPABLE = {"lcore", "hypercorn"}


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


def run_wrk(port: int, duration: int, threads: int, connections: int) -> tuple[float, float]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = _to_ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1))
    return rps, p99


def _to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_h2load(port: int, duration: int, clients: int, streams: int) -> tuple[float, float]:
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
                f"http://127.0.0.1:{port}/",
            ],
            capture_output=True,
            text=True,
            timeout=duration + 30,
        ).stdout
        durations = sorted(int(line.split("\t")[2]) for line in log if line.strip())
    match = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    failed = re.search(r"(\d+) failed, (\d+) errored", out)
    if not match or not durations:
        raise RuntimeError("h2load produced no result:\n" + out)
    if failed and (int(failed.group(1)) or int(failed.group(2))):
        print(f"  warning: h2load reported failures: {failed.group(0)}", file=sys.stderr)
    p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))] / 1000.0
    return float(match.group(1)), p99


def bench(name: str, app_dir: str, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), app_dir]))
    process = subprocess.Popen(
        SERVERS[name](port),
        cwd=app_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, tuple[float, float]] = {}
    try:
        wait_listening(port, process)
        time.sleep(0.5)
        run_wrk(port, 1, args.threads, args.connections)  # warm-up
        results["h1"] = run_wrk(port, args.duration, args.threads, args.connections)
        if name in H2_CAPABLE and shutil.which("h2load"):
            results["h2"] = run_h2load(port, args.duration, args.h2_clients, 10)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--h2-clients", type=int, default=16, help="h2load clients (-c)")
    parser.add_argument("--servers", default="lcore,uvicorn,hypercorn")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds over all servers; the best run counts"
    )
    args = parser.parse_args()
    for tool in ("wrk", "h2load"):
        if not shutil.which(tool):
            print(f"note: {tool} not found; its column is skipped", file=sys.stderr)
    with tempfile.TemporaryDirectory() as app_dir:
        Path(app_dir, "benchapp.py").write_text(APP)
        table: dict[str, dict[str, tuple[float, float]]] = {}
        # Servers take turns round by round, so a noisy minute on a shared machine does
        # not land on one server only; each keeps its best run (rate, and that run's p99).
        for round_number in range(1, args.rounds + 1):
            for name in args.servers.split(","):
                print(f"round {round_number}: {name} ...", file=sys.stderr)
                for key, result in bench(name, app_dir, args).items():
                    best = table.setdefault(name, {}).get(key)
                    if best is None or result[0] > best[0]:
                        table[name][key] = result
    print_table(table, args)


def print_table(table: dict[str, dict[str, tuple[float, float]]], args: argparse.Namespace) -> None:
    print(
        f"\nwrk -t{args.threads} -c{args.connections} -d{args.duration}s (HTTP/1.1 keep-alive); "
        f"h2load -c{args.h2_clients} -m10 -D{args.duration} (h2c); 1 worker each; "
        f"best of {args.rounds} rounds\n"
    )
    print("| server | HTTP/1.1 req/s | HTTP/1.1 p99 ms | h2c req/s | h2c p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for name, result in table.items():
        h1 = result.get("h1")
        h2 = result.get("h2")
        print(
            f"| {name} | {h1[0]:,.0f} | {h1[1]:.2f} | "
            + (f"{h2[0]:,.0f} | {h2[1]:.2f} |" if h2 else "n/a | n/a |")
        )
    lcore = table.get("lcore", {})
    print()
    for other in ("uvicorn", "hypercorn"):
        if other not in table or not lcore:
            continue
        parts = []
        for key, label in (("h1", "HTTP/1.1"), ("h2", "h2c")):
            if key in lcore and key in table[other]:
                mine, theirs = lcore[key], table[other][key]
                parts.append(
                    f"{label} rate x{mine[0] / theirs[0]:.2f}, p99 x{mine[1] / theirs[1]:.2f}"
                )
        print(f"lcore / {other}: " + "; ".join(parts))


if __name__ == "__main__":
    main()
