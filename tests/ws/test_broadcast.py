"""Broadcast: the in-memory backend, and the Redis backend against a real redis-server."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import anyio
import pytest

from lcore import Lcore, request
from lcore_ws.broadcast import Broadcast, Event


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def check_publish_subscribe(b: Broadcast) -> None:
    async with b.subscribe("a") as a1, b.subscribe("a") as a2, b.subscribe("b") as b1:
        await b.publish("a", "text")
        await b.publish("a", b"\x00bin")
        await b.publish("b", "for b")
        for sub in (a1, a2):
            assert await asyncio.wait_for(sub.get(), 5) == Event("a", "text")
            assert await asyncio.wait_for(sub.get(), 5) == Event("a", b"\x00bin")
        assert (await asyncio.wait_for(b1.get(), 5)).message == "for b"
        await b.publish("a", '{"k": 1}')
        assert (await asyncio.wait_for(a1.get(), 5)).json() == {"k": 1}
    with pytest.raises(TypeError):
        await b.publish("a", {"not": "encoded"})  # type: ignore[arg-type]
    await b.aclose()


def test_memory_publish_subscribe():
    run(check_publish_subscribe(Broadcast()))


def test_redis_publish_subscribe(redis_server):
    run(check_publish_subscribe(Broadcast(redis_server.url)))


def test_unsubscribed_gets_nothing_and_iteration_subscribes_itself():
    async def main():
        b = Broadcast()
        async with b.subscribe("c") as sub:
            pass
        await b.publish("c", "lost")
        assert sub._queue is None

        got = []

        async def consume():
            async for event in b.subscribe("c"):
                got.append(event.message)
                if len(got) == 2:
                    return

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            while not b.backend._subs.get("c"):
                await asyncio.sleep(0.01)
            await b.publish("c", "1")
            await b.publish("c", "2")
        assert got == ["1", "2"]
        assert not b.backend._subs  # the iteration unsubscribed when it ended

    run(main())


def test_memory_reaches_subscribers_on_another_loop_and_thread():
    b = Broadcast()
    received: list[str] = []
    ready = threading.Event()

    async def subscriber():
        async with b.subscribe("x") as sub:
            ready.set()
            received.append((await asyncio.wait_for(sub.get(), 5)).message)

    t = threading.Thread(target=lambda: asyncio.run(subscriber()))
    t.start()
    assert ready.wait(5)
    asyncio.run(b.publish("x", "across loops"))
    t.join(10)
    assert received == ["across loops"]


def test_slow_subscriber_drops_oldest_never_blocks_publishers():
    async def main():
        b = Broadcast(max_buffer=3)
        async with b.subscribe("s") as sub:
            for i in range(10):
                await b.publish("s", str(i))
            assert sub.dropped == 7
            assert [(await sub.get()).message for _ in range(3)] == ["7", "8", "9"]

    run(main())


def test_redis_subscribers_resume_after_a_restart(redis_server):
    async def main():
        b = Broadcast(redis_server.url, reconnect_max=0.5)
        async with b.subscribe("r") as sub:
            await b.publish("r", "before")
            assert (await asyncio.wait_for(sub.get(), 5)).message == "before"
            await asyncio.to_thread(redis_server.stop)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(redis_server.start)  # same port
            deadline = time.monotonic() + 15
            while True:
                try:
                    await b.publish("r", "after")
                    event = await asyncio.wait_for(sub.get(), 0.5)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
            assert event.message == "after"
        await b.aclose()

    run(main())


def test_unknown_backend_url():
    with pytest.raises(ValueError):
        Broadcast("kafka://x")


def test_chat_room_through_websockets(make_client):
    app = Lcore()
    b = Broadcast()

    @app.websocket("/room/<room>")
    async def room(ws, room):
        await ws.accept()
        async with b.subscribe(room) as sub, anyio.create_task_group() as tg:

            async def relay():
                async for event in sub:
                    await ws.send_text(event.message)

            tg.start_soon(relay)
            await ws.send_text("joined")
            async for text in ws:
                await b.publish(room, text)
            tg.cancel_scope.cancel()

    c = make_client(app)
    with (
        c.websocket_connect("/room/r1") as alice,
        c.websocket_connect("/room/r1") as bob,
        c.websocket_connect("/room/other") as carol,
    ):
        for ws in (alice, bob, carol):
            assert ws.receive_text() == "joined"
        alice.send_text("hi all")
        assert alice.receive_text() == "hi all"
        assert bob.receive_text() == "hi all"
        carol.send_text("elsewhere")
        assert carol.receive_text() == "elsewhere"
        bob.send_text("hello alice")
        assert alice.receive_text() == "hello alice"


@pytest.mark.asyncio_only("redis-py's async client is built on asyncio streams")
def test_publish_while_redis_is_down_is_a_logged_drop_not_a_500(make_client, redis_server, caplog):
    """Redis stopped mid-test: HTTP and WebSocket handlers that publish go on (publish()
    returns False, one rate-limited WARNING); after Redis restarts publishing works again
    and the subscriber resumes."""
    app = Lcore()
    b = Broadcast(redis_server.url, reconnect_max=0.5)

    @app.post("/say")
    async def say():
        return {"published": await b.publish("news", request.json["text"])}

    @app.post("/release")
    async def release():
        await b.aclose()  # the Redis connections made on this loop (the HTTP handlers')
        return {}

    @app.websocket("/say")
    async def say_ws(ws):
        await ws.accept()
        try:
            async for text in ws:
                await ws.send_json({"published": await b.publish("news", text)})
        finally:
            await b.aclose()  # under WSGI a test session has a loop of its own

    @app.websocket("/listen")
    async def listen(ws):
        await ws.accept()
        async with b.subscribe("news") as sub, anyio.create_task_group() as tg:

            async def relay():
                async for event in sub:
                    await ws.send_text(event.message)

            tg.start_soon(relay)
            await ws.send_text("subscribed")
            async for _ in ws:  # until the client leaves
                pass
            tg.cancel_scope.cancel()

    caplog.set_level(logging.WARNING, logger="lcore.ws.broadcast")
    c = make_client(app)
    with c.websocket_connect("/listen") as listener, c.websocket_connect("/say") as speaker:
        assert listener.receive_text() == "subscribed"
        assert c.post("/say", json={"text": "one"}).json == {"published": True}
        assert listener.receive_text() == "one"

        redis_server.stop()
        for i in range(3):
            r = c.post("/say", json={"text": f"lost {i}"})
            assert (r.status_code, r.json) == (200, {"published": False})
            speaker.send_text(f"lost ws {i}")
            assert speaker.receive_json() == {"published": False}
        assert b.dropped == 6
        drops = [r for r in caplog.records if "Redis is unreachable" in r.getMessage()]
        assert len(drops) == 1 and drops[0].levelno == logging.WARNING  # rate-limited

        redis_server.start()  # same port
        assert c.post("/say", json={"text": "again"}).json == {"published": True}
        assert any("reachable again; 6 message(s)" in r.getMessage() for r in caplog.records)
        deadline = time.monotonic() + 20
        n = 0
        while True:  # the subscriber's pub/sub connection comes back with backoff
            n += 1
            speaker.send_text(f"back {n}")
            assert speaker.receive_json() == {"published": True}
            try:
                got = listener.receive_text(timeout=0.5)
            except TimeoutError:
                assert time.monotonic() < deadline, "the subscriber did not resume"
                continue
            if got.startswith("back"):
                break
    c.post("/release")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_memory_backend_on_each_anyio_backend(backend: str) -> None:
    async def main() -> None:
        b = Broadcast(max_buffer=2)
        async with b.subscribe("a") as a1, b.subscribe("b") as b1:
            await b.publish("a", "text")
            await b.publish("a", b"\x00bin")
            await b.publish("b", "for b")
            with anyio.fail_after(5):
                assert await a1.get() == Event("a", "text")
                assert await a1.get() == Event("a", b"\x00bin")
                assert (await b1.get()).message == "for b"
            for i in range(3):
                await b.publish("a", str(i))
            with anyio.fail_after(5):
                assert [(await a1.get()).message for _ in range(2)] == ["1", "2"]
            assert a1.dropped == 1

    anyio.run(main, backend=backend)


def test_memory_backend_across_an_asyncio_and_a_trio_loop() -> None:
    """A subscriber on trio gets what a publisher on asyncio (another thread) sends."""
    b = Broadcast()
    ready = threading.Event()
    got: list[Event] = []

    async def subscriber() -> None:
        async with b.subscribe("x") as sub:
            ready.set()
            with anyio.fail_after(10):
                got.append(await sub.get())

    t = threading.Thread(target=lambda: anyio.run(subscriber, backend="trio"))
    t.start()
    assert ready.wait(10)
    asyncio.run(b.publish("x", "from asyncio to trio"))
    t.join(10)
    assert got == [Event("x", "from asyncio to trio")]


def test_redis_backend_on_trio_is_a_clear_error() -> None:
    async def main() -> None:
        await Broadcast("redis://127.0.0.1:1/0").publish("x", "y")

    with pytest.raises(
        RuntimeError, match=r"needs the asyncio event loop \(redis-py's async client"
    ):
        anyio.run(main, backend="trio")

    async def subscribe() -> None:
        async with Broadcast("redis://127.0.0.1:1/0").subscribe("x"):
            pass

    with pytest.raises(RuntimeError, match="running on trio"):
        anyio.run(subscribe, backend="trio")
