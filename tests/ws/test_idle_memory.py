"""What an idle WebSocket holds on lcore's embedded server (the cost of many open sockets).

An idle connection should hold its protocol state and the app's waiting handler, not a
task per timer or the handshake's objects. ``bench/bench_ws.py`` measures the RSS of
1000 idle connections against uvicorn and hypercorn; these tests pin the structure
behind it in-process: tasks per connection, and a tracemalloc ceiling per connection.
The timers' two implementations (a timer handle on asyncio, a task on trio) are
exercised on both backends.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import anyio
import pytest
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.sync.client import connect
from websockets.uri import parse_uri

from lcore_asgi.server import Config, Server
from lcore_ws import WebSocketOptions
from lcore_ws.protocol import serve_stream
from lcore_ws.testing import _pipe

from .test_behaviour import echo_app as make_app

N = 40


@contextmanager
def serving() -> Iterator[tuple[Server, anyio.from_thread.BlockingPortal]]:
    """The embedded server in a thread, with the portal into its event loop."""
    config = Config(
        make_app(),
        port=0,
        log_level="warning",
        access_log=False,
        install_signal_handlers=False,
        timeout_graceful_shutdown=3,
    )
    server = Server(config)
    with anyio.from_thread.start_blocking_portal(**config.run_options()) as portal:
        future, _ = portal.start_task(server.serve)
        try:
            yield server, portal
        finally:
            portal.call(server.request_shutdown)
            future.result(timeout=15)


@contextmanager
def idle_connections(port: int, n: int) -> Iterator[None]:
    """``n`` open connections (no compression), each after one echo, then idle."""
    with ExitStack() as stack:
        for _ in range(n):
            ws = stack.enter_context(
                connect(f"ws://127.0.0.1:{port}/echo", compression=None, open_timeout=10)
            )
            ws.send("hello")
            assert ws.recv(timeout=10) == "hello"
        yield


def settled(portal: anyio.from_thread.BlockingPortal) -> int:
    """The number of tasks on the server's loop, once every pending step ran."""

    async def count() -> int:
        for _ in range(20):
            await anyio.sleep(0.01)
        return len(asyncio.all_tasks())

    return portal.call(count)


def test_an_idle_websocket_holds_at_most_two_tasks():
    """The connection's task (running the app) and the reader: no timer task."""
    with serving() as (server, portal):
        with idle_connections(server.port, 2):
            base = settled(portal)
            with idle_connections(server.port, N):
                during = settled(portal)
    assert during - base <= 2 * N, f"{(during - base) / N:.1f} tasks per idle connection"


#: Allocations of the server side (driver, server, anyio, app), whichever thread made them.
_SERVER_SIDE = [
    tracemalloc.Filter(True, pattern, all_frames=True)
    for pattern in ("*/lcore_ws/*", "*/lcore_asgi/*", "*/anyio/*", "*/lcore/*")
]


def test_idle_websocket_memory_stays_under_a_ceiling():
    """Python memory per idle, uncompressed connection (the app's share included).

    About 43 KiB when each connection kept a timer task, its handshake request and 101
    response and an empty deque; about 31 KiB since. The ceiling leaves room for noise and
    small changes elsewhere; zlib's state (permessage-deflate) is left out by not offering
    it, as uvicorn and hypercorn would hold it too.
    """
    with serving() as (server, portal):
        with idle_connections(server.port, 2):
            settled(portal)
            tracemalloc.start(12)  # frames enough to see a server-side one
            try:
                gc.collect()
                before = tracemalloc.take_snapshot().filter_traces(_SERVER_SIDE)
                with idle_connections(server.port, N):
                    settled(portal)
                    gc.collect()
                    after = tracemalloc.take_snapshot().filter_traces(_SERVER_SIDE)
            finally:
                tracemalloc.stop()
    per_connection = sum(s.size_diff for s in after.compare_to(before, "filename")) / N
    top = "\n".join(str(s) for s in after.compare_to(before, "lineno")[:10])
    assert per_connection < 38 * 1024, f"{per_connection / 1024:.1f} KiB per connection:\n{top}"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_keepalive_timers_on_both_backends(backend):
    """A client that never answers pings is pinged, then closed with 1011 (both timers)."""

    async def main() -> tuple[list[Opcode], int | None]:
        ours, theirs = _pipe()
        client = ClientProtocol(parse_uri("ws://testserver/echo"))
        client.send_request(client.connect())
        opcodes: list[Opcode] = []
        code = None
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                options = WebSocketOptions(ping_interval=0.1, ping_timeout=0.2)
                tg.start_soon(lambda: serve_stream(make_app().asgi, theirs, options=options))
                for data in client.data_to_send():
                    await ours.send(data)
                while code is None:
                    try:
                        data = await ours.receive()
                    except anyio.EndOfStream:
                        break
                    client.receive_data(data)
                    client.data_to_send()  # its pongs are never sent
                    for event in client.events_received():
                        opcode = getattr(event, "opcode", None)
                        if opcode is not None:
                            opcodes.append(opcode)
                        if opcode is Opcode.CLOSE and client.close_rcvd is not None:
                            code = client.close_rcvd.code
                await ours.aclose()
        return opcodes, code

    opcodes, code = anyio.run(main, backend=backend)
    assert Opcode.PING in opcodes
    assert code == 1011
