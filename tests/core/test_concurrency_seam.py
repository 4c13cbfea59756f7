"""lcore.concurrency's loop primitives on asyncio and trio, and the TestClient backend."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import anyio
import pytest

from lcore import Lcore, TestClient, concurrency

BACKENDS = ["asyncio", "trio"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_spawned_task_runs_is_cancelled_and_keeps_the_context(backend: str) -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")

    async def main() -> None:
        var.set("caller's")
        seen = []

        async def child() -> None:
            seen.append(var.get())

        t = concurrency.spawn(child)
        assert await t.wait(5) and t.done() and seen == ["caller's"]

        async def forever() -> None:
            await anyio.sleep_forever()

        t = concurrency.spawn(forever)
        await anyio.sleep(0)
        assert not await t.wait(0.01)
        t.cancel()
        assert await t.wait(5) and t.exception is None

        async def fails() -> None:
            raise ValueError("kept")

        t = concurrency.spawn(fails)
        assert await t.wait(5) and isinstance(t.exception, ValueError)

    anyio.run(main, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_loop_handle_takes_callbacks_from_other_threads(backend: str) -> None:
    handles = []

    async def main() -> None:
        loop = concurrency.current_loop()
        assert concurrency.current_loop() is loop and loop.is_current()
        assert concurrency.current_backend() == backend and concurrency.on_event_loop()
        ev = concurrency.new_event()
        assert not await concurrency.wait_event(ev, 0.01)
        t = threading.Thread(target=loop.call_soon_threadsafe, args=(ev.set,))
        t.start()
        assert await concurrency.wait_event(ev, 5)
        t.join()
        seen = []
        await anyio.to_thread.run_sync(lambda: seen.append(loop.is_current()))
        assert seen == [False]
        handles.append(loop)

    anyio.run(main, backend=backend)
    assert not concurrency.on_event_loop()
    assert handles[0].call_soon_threadsafe(print) is False  # that loop has finished


@pytest.mark.parametrize("backend", BACKENDS)
def test_iterate_in_thread_and_back(backend: str) -> None:
    closed = []

    def numbers():
        try:
            yield from range(10)
        finally:
            closed.append("sync")

    async def agen():
        try:
            for i in range(3):
                yield i
        finally:
            closed.append("async")

    async def main() -> None:
        got = [x async for x in concurrency.iterate_in_thread(None, numbers(), ahead=3)]
        assert got == list(range(10))
        from_thread = await concurrency.run_sync(
            None, lambda: list(concurrency.iterate_from_thread(None, agen()))
        )
        assert from_thread == [0, 1, 2]

    anyio.run(main, backend=backend)
    assert closed == ["sync", "async"]


def test_testclient_backend_option(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Lcore()

    @app.route("/")
    async def h():
        return concurrency.current_backend()

    for backend in BACKENDS:
        with TestClient(app, protocol="asgi", backend=backend) as c:
            assert c.backend == backend and c.get("/").text == backend
    monkeypatch.setenv("LCORE_TEST_BACKEND", "trio")
    with TestClient(app, protocol="asgi") as c:
        assert c.get("/").text == "trio"
    with pytest.raises(ValueError, match="backend must be one of asyncio, trio"):
        TestClient(app, protocol="asgi", backend="curio")


def test_require_asyncio_is_a_clear_error_on_trio() -> None:
    async def main() -> None:
        concurrency.require_asyncio("X", "it needs Y")

    anyio.run(main, backend="asyncio")
    with pytest.raises(
        RuntimeError, match=r"X needs the asyncio event loop \(it needs Y\); it is running on trio"
    ):
        anyio.run(main, backend="trio")


def test_the_concurrency_doc_examples_run() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "concurrency.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, "docs/concurrency.md", "exec"), {"__name__": "docs_example"})


@pytest.mark.parametrize("backend", concurrency.BACKENDS)
def test_portal_thread_stops_within_its_bound_without_starting_a_thread(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At interpreter exit Python 3.12 refuses new threads: the exit clean-up (the
    # persistent loop's and the test clients') must stop a loop without one, and must
    # not wait past its bound for a call blocked in a worker thread.
    release, blocked = threading.Event(), threading.Event()

    def stuck() -> None:
        blocked.set()
        release.wait()

    cm = concurrency.start_portal(backend)
    portal = cm.__enter__()
    portal.start_task_soon(anyio.to_thread.run_sync, stuck)
    assert blocked.wait(5)

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    try:
        assert cm.stop(cancel=True, timeout=0.5) is False  # the blocked call holds the loop
    finally:
        monkeypatch.undo()
        release.set()
    assert cm.thread is not None
    cm.thread.join(5)
    assert not cm.thread.is_alive()
    assert cm.stop(cancel=True, timeout=1) is True  # stopped already: nothing to do
