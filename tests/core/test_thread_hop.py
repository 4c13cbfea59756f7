"""lcore/_thread_hop.py: the asyncio hop behind ``lcore.concurrency.run_sync``."""

from __future__ import annotations

import contextvars
import threading
import time

import anyio
import anyio.from_thread
import pytest

from lcore import concurrency
from lcore._thread_hop import ThreadHop, hop_for_running_loop

pytestmark = pytest.mark.anyio

_var: contextvars.ContextVar[str] = contextvars.ContextVar("_var", default="unset")


@pytest.fixture
def anyio_backend() -> str:
    # The hop is asyncio's; on trio run_sync keeps anyio's (tests/core/test_concurrency_seam.py).
    return "asyncio"


async def test_run_sync_uses_the_hop_and_keeps_context_and_ctx() -> None:
    _var.set("request-42")
    ctx = object()
    seen: list[object] = []

    def blocking() -> str:
        from lcore.context import _current

        seen.append(_current.get(None))
        assert threading.current_thread() is not threading.main_thread()
        return _var.get()

    assert await concurrency.run_sync(ctx, blocking) == "request-42"
    assert seen == [ctx]
    hop = hop_for_running_loop(concurrency.get_thread_limit)
    assert isinstance(hop, ThreadHop) and hop.threads >= 1 and hop.pending == 0


async def test_exceptions_come_back_to_the_caller() -> None:
    def fail() -> None:
        raise KeyError("gone")

    with pytest.raises(KeyError, match="gone"):
        await concurrency.run_sync(None, fail)


async def test_capacity_limit_is_kept() -> None:
    import asyncio

    hop = ThreadHop(asyncio.get_running_loop(), lambda: 3)
    running = 0
    most = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    async with anyio.create_task_group() as tg:
        for _ in range(12):
            tg.start_soon(hop.run, work)
    assert most == 3
    assert hop.threads <= 3 and hop.pending == 0


async def test_a_cancelled_caller_waits_for_its_running_call() -> None:
    started = threading.Event()
    finished = threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(0.2)
        finished.set()

    with anyio.move_on_after(0.05):
        await concurrency.run_sync(None, slow)
    # The cancellation came after the call had started: the caller waited for it.
    assert started.is_set() and finished.is_set()


async def test_a_call_cancelled_before_it_starts_never_runs() -> None:
    import asyncio

    hop = ThreadHop(asyncio.get_running_loop(), lambda: 1)
    gate = threading.Event()
    ran: list[str] = []

    async with anyio.create_task_group() as tg:
        tg.start_soon(hop.run, gate.wait)  # holds the only worker
        await anyio.sleep(0.02)
        with anyio.move_on_after(0.05):
            await hop.run(ran.append, "queued")
        gate.set()
    await anyio.sleep(0.05)
    assert ran == []
    assert hop.pending == 0


async def test_from_thread_reaches_the_loop_from_a_worker() -> None:
    async def on_loop() -> str:
        return "loop"

    def blocking() -> str:
        return anyio.from_thread.run(on_loop) + "/" + concurrency.run_async(None, on_loop)

    assert await concurrency.run_sync(None, blocking) == "loop/loop"


async def test_idle_workers_exit() -> None:
    import asyncio

    hop = ThreadHop(asyncio.get_running_loop(), lambda: 4, idle=0.05)
    await hop.run(lambda: None)
    assert hop.threads == 1
    with anyio.fail_after(5):
        while hop.threads:
            await anyio.sleep(0.02)
    assert await hop.run(lambda: "again") == "again"  # a new worker starts


async def test_calls_that_wait_on_each_other_get_their_own_threads() -> None:
    # A blocks until B runs; B is queued while the only thread holds A: the hop must
    # start a thread for B (below the limit), or both wait forever.
    import asyncio

    hop = ThreadHop(asyncio.get_running_loop(), lambda: 8)
    b_ran = threading.Event()

    def a() -> bool:
        return b_ran.wait(5)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            results: list[bool] = []

            async def run_a() -> None:
                results.append(await hop.run(a))

            tg.start_soon(run_a)
            tg.start_soon(hop.run, b_ran.set)
    assert results == [True]
    assert 2 <= hop.threads <= 8
