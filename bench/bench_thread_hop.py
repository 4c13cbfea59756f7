"""The cost of one hop from the event loop to a worker thread and back, in µs.

Compares anyio's ``to_thread.run_sync``, ``loop.run_in_executor`` on a dedicated
``ThreadPoolExecutor`` (with a ``contextvars`` copy, as a fair hop must) and lcore's
hand-off queue (``lcore/_thread_hop.py``, what ``lcore.concurrency.run_sync`` uses on
asyncio), with one caller and with 32 concurrent callers, on asyncio and on uvloop.
Not a test: ``python bench/bench_thread_hop.py [--hops 20000]``; best of three runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import anyio
import anyio.to_thread

from lcore._thread_hop import ThreadHop


def work(x: int) -> int:
    return x + 1


async def _spread(hop: Callable[[int], Awaitable[object]], hops: int, callers: int) -> float:
    async def caller(count: int) -> None:
        for i in range(count):
            await hop(i)

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(callers):
            tg.start_soon(caller, hops // callers)
    return time.perf_counter() - start


async def anyio_hop(hops: int, callers: int) -> float:
    anyio.to_thread.current_default_thread_limiter().total_tokens = 64
    return await _spread(lambda i: anyio.to_thread.run_sync(work, i), hops, callers)


async def executor_hop(hops: int, callers: int) -> float:
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(64) as pool:

        def hop(i: int) -> Awaitable[int]:
            return loop.run_in_executor(pool, contextvars.copy_context().run, work, i)

        return await _spread(hop, hops, callers)


async def lcore_hop(hops: int, callers: int) -> float:
    hop = ThreadHop(asyncio.get_running_loop(), lambda: 64)
    return await _spread(lambda i: hop.run(work, i), hops, callers)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hops", type=int, default=20000)
    args = parser.parse_args()
    loops = [("asyncio", False)]
    try:
        import uvloop  # noqa: F401

        loops.append(("uvloop", True))
    except ImportError:
        pass
    print("| hop | loop | 1 caller µs | 32 callers µs |")
    print("|---|---|---:|---:|")
    for name, fn in (
        ("anyio.to_thread.run_sync", anyio_hop),
        ("run_in_executor + copy_context", executor_hop),
        ("lcore ThreadHop", lcore_hop),
    ):
        for loop_name, use_uvloop in loops:
            cells = []
            for callers in (1, 32):
                best = min(
                    anyio.run(fn, args.hops, callers, backend_options={"use_uvloop": use_uvloop})
                    for _ in range(3)
                )
                cells.append(f"{best / args.hops * 1e6:.1f}")
            print(f"| {name} | {loop_name} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
