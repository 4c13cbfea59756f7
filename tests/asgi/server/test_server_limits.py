"""The body limit and the body timeouts: one rule in the stream layer, both HTTP versions."""

from __future__ import annotations

import inspect
import socket
import time
from typing import Any

import anyio
import h2.events
import pytest
from server_support import read_until, read_until_closed, running_server
from test_server_h2 import h2_client
from test_server_h11 import connection

from lcore_asgi.server import _h1_checks, h2_protocol, h2_stream, h11_protocol, streams

# HTTP/1.1 cases run against both drivers (h11 and httptools).
pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("h1_driver")]

LIMIT = 100


def _body_app(calls: list[Any]) -> Any:
    """Read the whole body; answer its length. ``calls`` records each call's messages."""

    async def app(scope: dict, receive: Any, send: Any) -> None:
        messages: list[dict] = []
        calls.append(messages)
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] == "http.disconnect":
                return
            size += len(message["body"])
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"%d" % size})

    return app


async def _h11_status(app: Any, head: bytes, chunks: list[bytes], **options: Any) -> bytes:
    async with connection(app, max_body_size=LIMIT, **options) as client:
        await client.send(head)
        for chunk in chunks:
            await client.send(chunk)
        data = await read_until(client, b"\r\n\r\n")
    return data.split(b" ", 2)[1]


async def _h2_status(app: Any, length: int | None, chunks: list[bytes], **options: Any) -> bytes:
    async with h2_client(app, max_body_size=LIMIT, **options) as client:
        sid = client.conn.get_next_available_stream_id()
        headers = [(b":method", b"POST"), (b":path", b"/"), (b":scheme", b"http")]
        headers += [(b":authority", b"x")]
        if length is not None:
            headers.append((b"content-length", b"%d" % length))
        client.conn.send_headers(sid, headers)
        await client.flush()
        for index, chunk in enumerate(chunks):
            client.conn.send_data(sid, chunk, end_stream=index == len(chunks) - 1)
            await client.flush()
        response = await client.wait_for(
            lambda e: isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid
        )
    return dict(response.headers)[b":status"]


def _chunked(chunks: list[bytes]) -> list[bytes]:
    return [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks] + [b"0\r\n\r\n"]


_H11_POST = b"POST / HTTP/1.1\r\nHost: x\r\n"
_BIG = [b"a" * 60, b"b" * 60]  # 120 bytes, over LIMIT only with the second chunk
_SMALL = [b"a" * 60, b"b" * 40]  # exactly LIMIT


async def _status(way: str, chunks: list[bytes], calls: list[Any]) -> bytes:
    size = sum(map(len, chunks))
    app = _body_app(calls)
    if way == "h11-content-length":
        head = _H11_POST + b"Content-Length: %d\r\n\r\n" % size
        return await _h11_status(app, head, chunks)
    if way == "h11-chunked":
        head = _H11_POST + b"Transfer-Encoding: chunked\r\n\r\n"
        return await _h11_status(app, head, _chunked(chunks))
    if way == "h2-content-length":
        return await _h2_status(app, size, chunks)
    assert way == "h2-no-length"
    return await _h2_status(app, None, chunks)


WAYS = ["h11-content-length", "h11-chunked", "h2-content-length", "h2-no-length"]


@pytest.mark.parametrize("way", WAYS)
async def test_body_over_the_limit_is_413_for_every_framing(way: str) -> None:
    calls: list[Any] = []
    assert await _status(way, _BIG, calls) == b"413"
    if way.endswith("content-length"):
        assert calls == []  # the declared length is refused before the app runs
    else:
        # The app got the first chunk, then a disconnect instead of the one over the limit.
        assert calls == [
            [
                {"type": "http.request", "body": b"a" * 60, "more_body": True},
                {"type": "http.disconnect"},
            ]
        ]


@pytest.mark.parametrize("way", WAYS)
async def test_body_at_the_limit_is_served_for_every_framing(way: str) -> None:
    calls: list[Any] = []
    assert await _status(way, _SMALL, calls) == b"200"
    assert len(calls) == 1


def test_the_body_limit_is_checked_only_in_the_stream_layer() -> None:
    assert "max_body_size" in inspect.getsource(streams.HTTPStream)
    for module in (h11_protocol, _h1_checks, h2_protocol, h2_stream):
        assert "max_body_size" not in inspect.getsource(module), module.__name__


async def _trickle_h11(app: Any, budget: float, **options: Any) -> tuple[bytes, float]:
    """Send a body 10 bytes every ~50 ms; return the response status (or b"") and when."""
    async with connection(app, **options) as client:
        await client.send(_H11_POST + b"Content-Length: 100000\r\n\r\n")
        start = time.monotonic()
        data = b""
        with anyio.move_on_after(budget):
            while b"\r\n\r\n" not in data:
                await client.send(b"x" * 10)
                with anyio.move_on_after(0.05):
                    data += await client.receive()
        status = data.split(b" ", 2)[1] if data else b""
        return status, time.monotonic() - start


async def _trickle_h2(app: Any, budget: float, **options: Any) -> tuple[bytes, float]:
    async with h2_client(app, **options) as client:
        sid = client.request(method=b"POST", end=False)
        await client.flush()
        start = time.monotonic()
        status = b""
        with anyio.move_on_after(budget):
            while not status:
                client.conn.send_data(sid, b"x" * 10)
                await client.flush()
                with anyio.move_on_after(0.05):
                    for event in await client.pump():
                        if isinstance(event, h2.events.ResponseReceived):
                            status = dict(event.headers)[b":status"]
        return status, time.monotonic() - start


@pytest.mark.parametrize("trickle", [_trickle_h11, _trickle_h2], ids=["h11", "h2"])
async def test_body_trickled_below_the_min_rate_is_cut_with_408(trickle: Any) -> None:
    # 10 bytes every ~50 ms: no stall is near timeout_body, but 200 bytes/s < 10000.
    calls: list[Any] = []
    status, elapsed = await trickle(_body_app(calls), 5, timeout_body=0.5, min_body_rate=10000)
    assert status == b"408"
    assert 0.4 < elapsed < 2.0
    assert calls[0][-1] == {"type": "http.disconnect"}


@pytest.mark.parametrize("trickle", [_trickle_h11, _trickle_h2], ids=["h11", "h2"])
async def test_body_trickled_above_the_min_rate_is_not_cut(trickle: Any) -> None:
    calls: list[Any] = []
    status, elapsed = await trickle(_body_app(calls), 1.5, timeout_body=0.5, min_body_rate=50)
    assert status == b""  # no answer in three times timeout_body: still reading
    assert elapsed >= 1.5
    assert calls[0][-1]["type"] == "http.request"


def test_h2_preface_sniff_counts_toward_the_head_deadline() -> None:
    # A client dribbling a prefix of the HTTP/2 preface, then an HTTP/1.1 head that never
    # ends: the head deadline counts from the accept, not from the end of the sniff.
    timeout = 1.0
    with running_server(_body_app([]), timeout_headers=timeout) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            start = time.monotonic()
            sock.sendall(b"PRI")
            time.sleep(0.6)
            sock.sendall(b" /x HTTP/1.1\r\nHost: x\r\n")  # no longer the preface
            data = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            elapsed = time.monotonic() - start
    assert data.startswith(b"HTTP/1.1 408 "), data[:60]
    assert elapsed < timeout + 0.3  # was up to twice the header timeout


async def test_h11_body_limit_answer_closes_the_connection() -> None:
    async with connection(_body_app([]), max_body_size=LIMIT) as client:
        await client.send(_H11_POST + b"Content-Length: 1000\r\n\r\n")
        data = await read_until_closed(client)
    assert data.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in data.lower()
