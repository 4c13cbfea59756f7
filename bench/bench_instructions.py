"""Instructions per request (callgrind): lcore and falcon on the bench_core scenarios.

Wall-clock requests/s on a shared machine move by 20% from run to run; the number of
instructions the CPU executes per request does not. Each cell runs the app in-process
twice under ``valgrind --tool=callgrind`` (N1 and N2 requests) and reports
``(I(N2) - I(N1)) / (N2 - N1)``, which cancels start-up and import costs.

    python bench/bench_instructions.py [--markdown] [--frameworks lcore,falcon]

Needs ``valgrind`` (Debian package ``valgrind``). Lower is better.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import shutil
import subprocess
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_core  # noqa: E402

N1, N2 = 200, 1200


def _wsgi_loop(app: Any, method: str, path: str, body: bytes, n: int) -> None:
    env = bench_core._environ(method, path, body)

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
        pass

    for _ in range(n):
        e = dict(env)
        e["wsgi.input"] = io.BytesIO(body)
        result = app(e, start_response)
        for _chunk in result:
            pass
        if hasattr(result, "close"):
            result.close()


def _asgi_loop(app: Any, method: str, path: str, body: bytes, n: int) -> None:
    scope = bench_core.asgi_scope(method, path, body)
    msg = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return msg

    async def send(message: dict[str, Any]) -> None:
        pass

    async def main() -> None:
        for _ in range(n):
            await app(dict(scope), receive, send)

    asyncio.run(main())


def _child(framework: str, protocol: str, scenario: str, n: int) -> None:
    asgi = protocol == "asgi"
    app = bench_core.lcore_app(asgi) if framework == "lcore" else bench_core.falcon_app(asgi)
    method, path, body = bench_core.SCENARIOS[scenario]
    (_asgi_loop if asgi else _wsgi_loop)(app, method, path, body, n)


def _count(framework: str, protocol: str, scenario: str, n: int) -> int:
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        framework,
        protocol,
        scenario,
        str(n),
    ]
    env = dict(os.environ, PYTHONHASHSEED="0")  # the same dict layouts in every run
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    m = re.search(r"Collected\s*:\s*([\d,]+)", proc.stderr)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(
            f"valgrind failed for {framework}/{protocol}/{scenario}:\n{proc.stderr[-2000:]}"
        )
    return int(m.group(1).replace(",", ""))


def per_request(framework: str, protocol: str, scenario: str) -> float:
    return (
        _count(framework, protocol, scenario, N2) - _count(framework, protocol, scenario, N1)
    ) / (N2 - N1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--frameworks", default="lcore,falcon")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fw, proto, scen, n = args.child
        _child(fw, proto, scen, int(n))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    frameworks = args.frameworks.split(",")
    scenarios = list(bench_core.SCENARIOS)
    rows = []
    for protocol in ("wsgi", "asgi"):
        counts = {fw: {s: per_request(fw, protocol, s) for s in scenarios} for fw in frameworks}
        for fw in frameworks:
            cells = []
            for s in scenarios:
                ref = counts.get("falcon", {}).get(s)
                ratio = f" ({counts[fw][s] / ref:.2f}x)" if ref else ""
                cells.append(f"{counts[fw][s] / 1000:.1f}k{ratio}")
            rows.append((fw, protocol, cells))
    if args.markdown:
        print("| framework | protocol | " + " | ".join(f"{s} (x falcon)" for s in scenarios) + " |")
        print("|---|---|" + "---|" * len(scenarios))
        for fw, protocol, cells in rows:
            print(f"| {fw} | {protocol} | " + " | ".join(cells) + " |")
    else:
        for fw, protocol, cells in rows:
            print(f"{fw:8} {protocol:5} " + "  ".join(f"{c:>16}" for c in cells))


if __name__ == "__main__":
    main()
