"""HTTP/2 driver tests: an h2 client connection talking through an in-memory stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import DataFrame, Frame, GoAwayFrame, PingFrame, RstStreamFrame
from server_support import MemoryByteStream, echo_app, hello_app, memory_pipe

from lcore_asgi.server import Config
from lcore_asgi.server._state import ServerState
from lcore_asgi.server.h2_protocol import H2Connection

pytestmark = pytest.mark.anyio


class Client:
    """A tiny HTTP/2 client driving h2 over the in-memory pipe."""

    def __init__(self, stream: MemoryByteStream, driver: H2Connection) -> None:
        self.stream = stream
        self.driver = driver
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.events: list[Any] = []
        self.closed = False

    async def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            await self.stream.send(data)

    def request(self, path: bytes = b"/", method: bytes = b"GET", end: bool = True) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            stream_id,
            [(b":method", method), (b":path", path), (b":scheme", b"http"), (b":authority", b"x")],
            end_stream=end,
        )
        return stream_id

    async def pump(self, timeout: float = 5.0) -> list[Any]:
        """Read one chunk from the server and return the resulting events."""
        with anyio.fail_after(timeout):
            try:
                data = await self.stream.receive()
            except anyio.EndOfStream:
                self.closed = True
                return []
        events = self.conn.receive_data(data)
        self.events += events
        await self.flush()
        return events

    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> Any:
        for event in self.events:
            if predicate(event):
                return event
        with anyio.fail_after(timeout):
            while True:
                if self.closed:
                    raise AssertionError(f"connection closed; events: {self.events!r}")
                for event in await self.pump():
                    if predicate(event):
                        return event

    async def response(self, stream_id: int) -> tuple[dict[bytes, bytes], bytes]:
        await self.wait_for(
            lambda e: (
                isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset))
                and e.stream_id == stream_id
            )
        )
        headers: dict[bytes, bytes] = {}
        body = b""
        for event in self.events:
            if getattr(event, "stream_id", None) != stream_id:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                headers = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                body += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
        await self.flush()
        return headers, body


@asynccontextmanager
async def h2_client(
    app: Any, settings: dict | None = None, **options: Any
) -> AsyncIterator[Client]:
    config = Config(app=app, access_log=False, **options)
    state = ServerState(app, config)
    server_end, client_end = memory_pipe()
    driver = H2Connection(state, server_end, "http", ("127.0.0.1", 5555), ("127.0.0.1", 80))
    client = Client(client_end, driver)
    if settings:
        client.conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
    client.conn.initiate_connection()
    async with anyio.create_task_group() as tg:
        tg.start_soon(driver.run)
        await client.flush()
        try:
            yield client
        finally:
            tg.cancel_scope.cancel()
            await client_end.aclose()


async def test_get_over_h2() -> None:
    scopes: list[dict] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        scopes.append(scope)
        await hello_app(scope, receive, send)

    async with h2_client(app) as client:
        sid = client.request(b"/p?q=1")
        await client.flush()
        headers, body = await client.response(sid)
    assert headers[b":status"] == b"200"
    assert b"date" in headers
    assert headers[b"server"] == b"lcore"
    assert body == b"hello"
    scope = scopes[0]
    assert scope["http_version"] == "2"
    assert scope["path"] == "/p"
    assert scope["query_string"] == b"q=1"
    assert (b"host", b"x") in scope["headers"]
    assert not any(name.startswith(b":") for name, _ in scope["headers"])


async def test_settings_are_advertised() -> None:
    async with h2_client(
        hello_app,
        h2_max_concurrent_streams=7,
        h2_initial_window_size=12345,
        h2_max_frame_size=32768,
        h2_max_header_list_size=4096,
    ) as client:
        event = await client.wait_for(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
    changed = {code: s.new_value for code, s in event.changed_settings.items()}
    codes = h2.settings.SettingCodes
    assert changed[codes.MAX_CONCURRENT_STREAMS] == 7
    assert changed[codes.INITIAL_WINDOW_SIZE] == 12345
    assert changed[codes.MAX_FRAME_SIZE] == 32768
    assert changed[codes.MAX_HEADER_LIST_SIZE] == 4096


async def test_streams_run_concurrently() -> None:
    arrived = 0
    all_here = anyio.Event()

    async def app(scope: dict, receive: Any, send: Any) -> None:
        nonlocal arrived
        arrived += 1
        if arrived == 5:
            all_here.set()
        await all_here.wait()  # deadlocks unless all five handlers run at once
        await hello_app(scope, receive, send)

    async with h2_client(app) as client:
        ids = [client.request(b"/%d" % i) for i in range(5)]
        await client.flush()
        for sid in ids:
            headers, body = await client.response(sid)
            assert body == b"hello"


async def test_request_body_and_trailers() -> None:
    async with h2_client(echo_app) as client:
        sid = client.request(b"/echo", method=b"POST", end=False)
        client.conn.send_data(sid, b"abc")
        client.conn.send_data(sid, b"def")
        client.conn.send_headers(sid, [(b"x-trailer", b"1")], end_stream=True)
        await client.flush()
        headers, body = await client.response(sid)
    assert headers[b":status"] == b"200"
    assert body == b"abcdef"


async def test_outbound_flow_control_waits_for_window() -> None:
    payload = b"x" * 5000

    async def app(scope: dict, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": payload})

    settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000}
    async with h2_client(app, settings=settings) as client:
        sid = client.request()
        await client.flush()
        received = 0
        with anyio.fail_after(5):
            while received < 1000:
                for event in await client.pump():
                    if isinstance(event, h2.events.DataReceived):
                        received += len(event.data)
        with anyio.move_on_after(0.3):
            while True:
                for event in await client.pump():
                    if isinstance(event, h2.events.DataReceived):
                        received += len(event.data)
        assert received == 1000  # the window, no more
        client.conn.increment_flow_control_window(10000, stream_id=sid)
        await client.flush()
        headers, body = await client.response(sid)
    assert body == payload


async def test_inbound_data_acknowledged_as_app_consumes() -> None:
    release = anyio.Event()
    got = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        await release.wait()
        while True:
            message = await receive()
            got.append(message["body"])
            if not message["more_body"]:
                break
        await hello_app(scope, receive, send)

    async with h2_client(app, h2_initial_window_size=1000) as client:
        await client.wait_for(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
        sid = client.request(method=b"POST", end=False)
        client.conn.send_data(sid, b"a" * 1000)
        await client.flush()
        assert client.conn.local_flow_control_window(sid) == 0
        with anyio.move_on_after(0.3):
            while True:
                events = await client.pump()
                assert not any(isinstance(e, h2.events.WindowUpdated) for e in events)
        release.set()
        await client.wait_for(
            lambda e: isinstance(e, h2.events.WindowUpdated) and e.stream_id == sid
        )
        client.conn.send_data(sid, b"b" * 10, end_stream=True)
        await client.flush()
        headers, body = await client.response(sid)
    assert b"".join(got) == b"a" * 1000 + b"b" * 10


async def test_rst_stream_cancels_handler() -> None:
    started = anyio.Event()
    cancelled = anyio.Event()

    async def app(scope: dict, receive: Any, send: Any) -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async with h2_client(app) as client:
        sid = client.request()
        await client.flush()
        with anyio.fail_after(5):
            await started.wait()
        client.conn.reset_stream(sid, ErrorCodes.CANCEL)
        await client.flush()
        with anyio.fail_after(5):
            await cancelled.wait()
        client.conn.ping(b"still-up")
        await client.flush()
        ack = await client.wait_for(lambda e: isinstance(e, h2.events.PingAckReceived))
    assert ack.ping_data == b"still-up"  # the connection outlived the reset stream


async def test_rst_stream_gives_disconnect_to_receive() -> None:
    # A reset cancels the handler (see above); receive() then says the client is gone.
    messages: list[dict] = []
    done = anyio.Event()

    async def app(scope: dict, receive: Any, send: Any) -> None:
        try:
            messages.append(await receive())
            try:
                messages.append(await receive())  # pending when the stream is reset
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True), anyio.fail_after(1):
                    messages.append(await receive())
                raise
        finally:
            done.set()

    async with h2_client(app) as client:
        sid = client.request(method=b"POST", end=False)
        client.conn.send_data(sid, b"part")
        await client.flush()
        await anyio.sleep(0.1)
        client.conn.reset_stream(sid, ErrorCodes.CANCEL)
        await client.flush()
        with anyio.fail_after(5):
            await done.wait()
    assert messages == [
        {"type": "http.request", "body": b"part", "more_body": True},
        {"type": "http.disconnect"},
    ]


async def test_ping_answered() -> None:
    async with h2_client(hello_app) as client:
        client.conn.ping(b"12345678")
        await client.flush()
        event = await client.wait_for(lambda e: isinstance(e, h2.events.PingAckReceived))
    assert event.ping_data == b"12345678"


class RawFrames:
    """Read the server's frames raw: h2's client state machine stops at the first GOAWAY."""

    def __init__(self, stream: MemoryByteStream) -> None:
        self.stream = stream
        self.buffer = b""
        self.frames: list[Frame] = []
        self.closed = False

    async def until(self, predicate: Any, timeout: float = 5.0) -> Frame:
        """Read frames until one matches ``predicate``; return it."""
        seen = 0
        with anyio.fail_after(timeout):
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.frames)
                await self.read()
                if self.closed:
                    raise AssertionError(f"connection closed; frames: {self.frames!r}")

    async def read(self) -> None:
        try:
            self.buffer += await self.stream.receive()
        except anyio.EndOfStream:
            self.closed = True
            return
        while len(self.buffer) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
            if len(self.buffer) < 9 + length:
                break
            frame.parse_body(memoryview(self.buffer[9 : 9 + length]))
            self.frames.append(frame)
            self.buffer = self.buffer[9 + length :]

    async def read_to_close(self, timeout: float = 5.0) -> None:
        with anyio.fail_after(timeout):
            while not self.closed:
                await self.read()


def _is_goaway(frame: Frame) -> bool:
    return isinstance(frame, GoAwayFrame)


def _ended(stream_id: int) -> Any:
    return lambda f: f.stream_id == stream_id and "END_STREAM" in f.flags


def _ack(ping: Frame) -> bytes:
    ack = PingFrame(0, opaque_data=ping.opaque_data)
    ack.flags.add("ACK")
    return ack.serialize()


def _is_ping(frame: Frame) -> bool:
    return isinstance(frame, PingFrame) and "ACK" not in frame.flags


async def test_graceful_shutdown_goaway_sequence() -> None:
    """RFC 9113 §6.8: GOAWAY 2**31-1 (and PING), then GOAWAY with the real last stream."""
    releases = {b"/one": anyio.Event(), b"/three": anyio.Event()}
    started: list[bytes] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        started.append(scope["raw_path"])
        await releases[scope["raw_path"]].wait()
        await hello_app(scope, receive, send)

    async with h2_client(app) as client:
        await client.wait_for(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
        one = client.request(b"/one")
        await client.flush()
        with anyio.fail_after(5):
            while not started:
                await anyio.sleep(0.01)
        raw = RawFrames(client.stream)
        client.driver.shutdown()
        # Nothing until the stream in flight has its response, then a PING alone: its
        # ack says the client has read that response before any GOAWAY (h2-based
        # clients such as httpx fail a stream still reading when a GOAWAY arrives).
        with anyio.move_on_after(0.3):
            await raw.until(lambda f: _is_goaway(f) or _is_ping(f))
        assert not any(_is_goaway(f) or _is_ping(f) for f in raw.frames)
        releases[b"/one"].set()
        flush = await raw.until(_is_ping)
        assert any(_ended(one)(f) for f in raw.frames[: raw.frames.index(flush)])
        with anyio.move_on_after(0.3):
            await raw.until(_is_goaway)
        assert not any(_is_goaway(f) for f in raw.frames)
        await client.stream.send(_ack(flush))

        first = await raw.until(_is_goaway)
        assert first.last_stream_id == 2**31 - 1
        assert first.error_code == 0
        # Its PING goes first: h2-based clients fail on any frame after a GOAWAY.
        ping = raw.frames[raw.frames.index(first) - 1]
        assert _is_ping(ping) and ping.opaque_data != flush.opaque_data

        # A stream the client opened before it saw the GOAWAY is served; the PING's
        # acknowledgement comes after it, so the final GOAWAY covers it.
        three = client.request(b"/three")
        await client.flush()
        with anyio.move_on_after(0.3):
            await raw.until(lambda f: _is_goaway(f) and f is not first)
        assert [f for f in raw.frames if _is_goaway(f)] == [first]
        await client.stream.send(_ack(ping))
        final = await raw.until(lambda f: _is_goaway(f) and f is not first)
        assert final.last_stream_id == three
        assert final.error_code == 0

        # A stream opened after the final GOAWAY is refused; the connection closes
        # once stream 3 has its response.
        five = client.request(b"/five")
        await client.flush()
        reset = await raw.until(lambda f: isinstance(f, RstStreamFrame))
        assert reset.stream_id == five
        assert reset.error_code == ErrorCodes.REFUSED_STREAM
        releases[b"/three"].set()
        await raw.read_to_close()
    assert any(_ended(three)(f) for f in raw.frames)
    assert b"".join(f.data for f in raw.frames if isinstance(f, DataFrame)) == b"hello" * 2
    assert [f.last_stream_id for f in raw.frames if _is_goaway(f)] == [2**31 - 1, three]
    assert started == [b"/one", b"/three"]


async def test_graceful_shutdown_without_ping_acks_still_closes() -> None:
    async with h2_client(hello_app) as client:
        await client.wait_for(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
        raw = RawFrames(client.stream)
        with anyio.fail_after(5):
            client.driver.shutdown()
            await raw.read_to_close()
    goaways = [f for f in raw.frames if _is_goaway(f)]
    assert [f.last_stream_id for f in goaways] == [2**31 - 1, 0]
    assert len([f for f in raw.frames if _is_ping(f)]) == 2


async def test_protocol_error_answered_with_goaway() -> None:
    async with h2_client(hello_app) as client:
        await client.wait_for(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
        # A DATA frame on stream 0 is a connection error of type PROTOCOL_ERROR.
        await client.stream.send(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
        data = b""
        with anyio.fail_after(5):
            while True:
                try:
                    data += await client.stream.receive()
                except anyio.EndOfStream:
                    break
    # GOAWAY frame type 7 with PROTOCOL_ERROR (1) as its error code.
    index = data.find(b"\x07\x00\x00\x00\x00\x00")
    assert index > 0
    assert data[index + 10 : index + 14] == b"\x00\x00\x00\x01"


async def test_app_error_before_start_is_500_after_start_is_reset() -> None:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["path"] == "/late":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        raise RuntimeError("boom")

    async with h2_client(app) as client:
        early = client.request(b"/early")
        late = client.request(b"/late")
        await client.flush()
        headers, _ = await client.response(early)
        assert headers[b":status"] == b"500"
        event = await client.wait_for(
            lambda e: isinstance(e, h2.events.StreamReset) and e.stream_id == late
        )
    assert event.error_code == ErrorCodes.INTERNAL_ERROR


async def test_body_over_limit_is_413() -> None:
    async with h2_client(echo_app, max_body_size=10) as client:
        sid = client.request(method=b"POST", end=False)
        client.conn.send_data(sid, b"z" * 100, end_stream=True)
        await client.flush()
        headers, _ = await client.response(sid)
    assert headers[b":status"] == b"413"


async def test_head_over_h2_has_no_body() -> None:
    async with h2_client(hello_app) as client:
        sid = client.request(method=b"HEAD")
        await client.flush()
        headers, body = await client.response(sid)
    assert headers[b":status"] == b"200"
    assert body == b""


async def test_flow_control_violation_is_goaway_flow_control_error() -> None:
    async with h2_client(echo_app, h2_initial_window_size=1000) as client:
        await client.wait_for(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
        sid = client.request(method=b"POST", end=False)
        await client.flush()
        frame = DataFrame(sid)
        frame.data = b"y" * 5000  # five times the stream window we advertised
        await client.stream.send(frame.serialize())
        data = b""
        with anyio.fail_after(5):
            while True:
                try:
                    data += await client.stream.receive()
                except anyio.EndOfStream:
                    break
    frames = []
    while data:
        parsed, length = Frame.parse_frame_header(memoryview(data[:9]))
        parsed.parse_body(memoryview(data[9 : 9 + length]))
        frames.append(parsed)
        data = data[9 + length :]
    goaways = [f for f in frames if isinstance(f, GoAwayFrame)]
    assert goaways and goaways[0].error_code == ErrorCodes.FLOW_CONTROL_ERROR


async def test_stalled_request_body_gets_408_as_over_http11() -> None:
    messages: list[dict] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break

    async with h2_client(app, timeout_body=0.2) as client:
        sid = client.request(method=b"POST", end=False)
        client.conn.send_data(sid, b"part")
        await client.flush()
        headers, body = await client.response(sid)
    assert headers[b":status"] == b"408"
    assert messages[-1] == {"type": "http.disconnect"}


async def test_oversized_frame_is_refused_before_it_is_buffered() -> None:
    async with h2_client(hello_app) as client:
        await client.wait_for(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
        # A DATA frame header announcing 16 MiB - 1 (far above SETTINGS_MAX_FRAME_SIZE).
        await client.stream.send(b"\xff\xff\xff\x00\x00\x00\x00\x00\x01")
        data = b""
        with anyio.fail_after(5):
            while True:
                try:
                    await client.stream.send(b"z" * 16384)
                except anyio.BrokenResourceError:
                    pass
                try:
                    with anyio.move_on_after(0.01):
                        data += await client.stream.receive()
                except anyio.EndOfStream:
                    break
    assert b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" in data  # GOAWAY
    index = data.index(b"\x00\x00\x08\x07\x00\x00\x00\x00\x00")
    assert data[index + 13 : index + 17] == b"\x00\x00\x00\x06"  # FRAME_SIZE_ERROR


async def test_unread_bodies_do_not_leak_the_connection_window() -> None:
    # hello_app never reads its body; 20 x 60 KB would exhaust a leaked 64 KB window.
    async with h2_client(hello_app) as client:
        await client.wait_for(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
        for _ in range(20):
            sid = client.request(method=b"POST", end=False)
            with anyio.fail_after(5):
                while client.conn.local_flow_control_window(sid) < 60_000:
                    await client.pump()
            for offset in range(0, 60_000, 15_000):
                client.conn.send_data(sid, b"q" * 15_000, end_stream=offset == 45_000)
            await client.flush()
            headers, _ = await client.response(sid)
            assert headers[b":status"] == b"200"


@pytest.mark.usefixtures("h1_driver")
async def test_h2c_upgrade_from_http11() -> None:
    from server_support import h1_connection_class

    from lcore_asgi.server.h2_protocol import upgrade_h2c

    scopes: list[dict] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        scopes.append(scope)
        await hello_app(scope, receive, send)

    config = Config(app=app, access_log=False)
    state = ServerState(app, config)
    server_end, client_end = memory_pipe()
    driver = h1_connection_class()(state, server_end, "http", None, None, {b"h2c": upgrade_h2c})
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    settings = conn.initiate_upgrade_connection()
    async with anyio.create_task_group() as tg:
        tg.start_soon(driver.run)
        await client_end.send(
            b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            b"Upgrade: h2c\r\nHTTP2-Settings: " + settings + b"\r\n\r\n"
        )
        data = b""
        with anyio.fail_after(5):
            while b"\r\n\r\n" not in data:
                data += await client_end.receive()
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols")
        await client_end.send(conn.data_to_send())
        events = conn.receive_data(rest) if rest else []
        body = b""
        with anyio.fail_after(5):
            while not any(isinstance(e, h2.events.StreamEnded) for e in events):
                body += b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
                events = conn.receive_data(await client_end.receive())
                await client_end.send(conn.data_to_send() or b"")
        body += b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
        tg.cancel_scope.cancel()
    await client_end.aclose()
    assert body == b"hello"
    assert scopes[0]["http_version"] == "2"
    assert scopes[0]["path"] == "/up"


async def test_rapid_reset_flood_gets_enhance_your_calm() -> None:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        await anyio.sleep_forever()

    def terminated() -> Any:
        return next(
            (e for e in client.events if isinstance(e, h2.events.ConnectionTerminated)), None
        )

    async with h2_client(app, h2_max_concurrent_streams=1000) as client:
        await client.wait_for(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
        with anyio.fail_after(10):
            for _ in range(400):
                if terminated() or client.closed:
                    break
                sid = client.request()
                client.conn.reset_stream(sid, ErrorCodes.CANCEL)
                await client.flush()
                with anyio.move_on_after(0.001):
                    await client.pump()
            while terminated() is None and not client.closed:
                await client.pump()
        event = terminated()
    assert event is not None
    assert event.error_code == ErrorCodes.ENHANCE_YOUR_CALM


@pytest.mark.parametrize(
    "header",
    [
        (b"x-bad", b"a\r\nInjected: yes"),
        (b"x-bad", b"a\nInjected: yes"),
        (b"bad name", b"v"),
        (b"x", b"nul\x00"),
        (b"x", b" padded "),
        (b":status", b"204"),
        (b"te", b"gzip"),
        ("str", b"v"),
        (b"x", "str"),
    ],
    ids=[
        "crlf-injection",
        "lf-injection",
        "space-in-name",
        "nul-in-value",
        "padded-value",
        "pseudo-header",
        "te-not-trailers",
        "str-name",
        "str-value",
    ],
)
async def test_invalid_app_headers_are_refused_with_500_as_over_http11(header: tuple) -> None:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [header]})
        await send({"type": "http.response.body", "body": b"x"})

    async with h2_client(app) as client:
        sid = client.request(b"/")
        await client.flush()
        headers, body = await client.response(sid)
    assert headers[b":status"] == b"500"
    assert not any(b"Injected" in name + value for name, value in headers.items())


async def test_app_headers_go_out_lowercased_without_hop_by_hop_fields() -> None:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        headers = [
            (b"X-Mixed-Case", b"Kept As Is"),
            (b"connection", b"close"),
            (b"keep-alive", b"5"),
            (b"content-type", b"text/plain"),
            (b"authorization", b"Bearer t"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"x"})

    async with h2_client(app) as client:
        for _ in range(2):  # the second time from the checked-fields cache
            sid = client.request(b"/")
            await client.flush()
            headers, body = await client.response(sid)
            assert headers[b":status"] == b"200"
            assert headers[b"x-mixed-case"] == b"Kept As Is"
            assert headers[b"content-type"] == b"text/plain"
            assert b"connection" not in headers and b"keep-alive" not in headers
            assert body == b"x"
