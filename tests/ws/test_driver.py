"""Robustness of the sans-I/O driver on lcore's embedded server, with real sockets.

The server runs in a thread on 127.0.0.1 (port 0); clients are the ``websockets``
package's own client and, for frames no sane client sends, a raw socket.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from lcore import Lcore
from lcore_asgi.server import Config, Server
from lcore_ws import WebSocketOptions
from lcore_ws.upgrade import upgrade_handler

progress: dict[str, int] = {}


def make_app() -> Lcore:
    app = Lcore()

    @app.websocket("/echo")
    async def echo(ws):
        await ws.accept()
        async for message in ws:
            await ws.send(message)

    @app.websocket("/flood/<n:int>")
    async def flood(ws, n):
        await ws.accept()
        progress["sent"] = 0
        progress["ended"] = 0
        chunk = b"x" * 65536
        try:
            for _ in range(n):
                await ws.send_bytes(chunk)
                progress["sent"] += 1
            await ws.close()
        finally:
            progress["ended"] = 1

    app.route("/plain", callback=lambda: "plain http")
    return app


@contextmanager
def running(options: WebSocketOptions | None = None, app: Lcore | None = None) -> Iterator[str]:
    config = Config(
        app or make_app(),
        port=0,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
        upgrade_handlers={b"websocket": upgrade_handler(options)},
    )
    server = Server(config)
    with server.run_in_thread():
        yield f"127.0.0.1:{server.port}"


def assert_still_serves(addr: str) -> None:
    with connect(f"ws://{addr}/echo") as ws:
        ws.send("still here")
        assert ws.recv(timeout=5) == "still here"


def close_code(exc: ConnectionClosed) -> int | None:
    return exc.rcvd.code if exc.rcvd is not None else None


# -- raw frames ------------------------------------------------------------------------


class Raw:
    """A raw client socket and the bytes read past the handshake response."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rest = b""

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self, n: int) -> bytes:
        return self.sock.recv(n)

    def settimeout(self, t: float) -> None:
        self.sock.settimeout(t)

    def close(self) -> None:
        self.sock.close()


def raw_connect(
    addr: str, path: str = "/echo", extra: bytes = b"", tls: ssl.SSLContext | None = None
) -> Raw:
    """A raw WebSocket client socket past the handshake (over TLS with ``tls``)."""
    host, port = addr.split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    if tls is not None:
        # A TCP FIN without TLS close_notify raises SSLEOFError instead of reading as EOF.
        sock = tls.wrap_socket(sock, server_hostname="localhost", suppress_ragged_eofs=False)
    s = Raw(sock)
    key = base64.b64encode(os.urandom(16))
    s.sendall(
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: "
        + key
        + b"\r\nSec-WebSocket-Version: 13\r\n"
        + extra
        + b"\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    s.rest = head.split(b"\r\n\r\n", 1)[1]
    return s


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frames(
    s: Raw, until_close: bool = True, timeout: float = 5, count: int | None = None
) -> list[tuple[int, bytes]]:
    """Read server frames (unmasked) until a close frame, ``count`` frames, or EOF; (opcode, payload) pairs."""
    buf = s.rest
    out = []
    s.settimeout(timeout)
    while True:
        while len(buf) >= 2:
            op, n = buf[0] & 0x0F, buf[1] & 0x7F
            off = 2
            if n == 126:
                n, off = struct.unpack("!H", buf[2:4])[0], 4
            elif n == 127:
                n, off = struct.unpack("!Q", buf[2:10])[0], 10
            if len(buf) < off + n:
                break
            out.append((op, buf[off : off + n]))
            buf = buf[off + n :]
            if (op == 8 and until_close) or len(out) == count:
                s.rest = buf
                return out
        try:
            chunk = s.recv(65536)
        except OSError:
            return out
        if not chunk:
            return out
        buf += chunk


def raw_close_code(frames: list[tuple[int, bytes]]) -> int | None:
    for op, payload in frames:
        if op == 8:
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
    return None


# -- tests -----------------------------------------------------------------------------


def test_echo_and_plain_http_side_by_side():
    with running() as addr:
        assert_still_serves(addr)
        assert httpx.get(f"http://{addr}/plain").text == "plain http"
        r = httpx.get(f"http://{addr}/echo")
        assert r.status_code == 404  # a WebSocket route is not an HTTP route


MiB = 1024 * 1024


def test_default_max_size_is_16_mib_like_uvicorn_and_hypercorn():
    # Autobahn 9.1.x/9.2.x send messages of up to 16 MiB.
    assert WebSocketOptions().max_size == 16 * MiB
    payload = b"\x5a" * (16 * MiB)
    with running() as addr:  # the default options
        with connect(f"ws://{addr}/echo", compression=None, max_size=None) as ws:
            ws.send(payload)
            assert ws.recv(timeout=30) == payload
            # The server's 1009 may reach the client while it is still sending.
            with pytest.raises(ConnectionClosed) as e:
                ws.send(payload + b"!")
                ws.recv(timeout=30)
            assert close_code(e.value) == 1009
        assert_still_serves(addr)


def test_fragments_are_reassembled_under_the_message_cap():
    with running(WebSocketOptions(max_size=1000)) as addr:
        with connect(f"ws://{addr}/echo", compression=None) as ws:
            ws.send(iter(["ab", "cd", "é"]))
            assert ws.recv(timeout=5) == "abcdé"
            ws.send(iter([b"\x00" * 300] * 3))
            assert ws.recv(timeout=5) == b"\x00" * 900
            # The cap is on the reassembled message: four 300-byte fragments are too many bytes.
            # The server's 1009 may reach the client while it is still sending: either call
            # may be the one that sees the close.
            with pytest.raises(ConnectionClosed) as e:
                ws.send(iter([b"\x00" * 300] * 4))
                ws.recv(timeout=5)
            assert close_code(e.value) == 1009
        assert_still_serves(addr)


def test_many_small_fragments_are_bounded_by_size_not_by_count():
    # Autobahn 9.3.x/9.4.x: a legal client may split a message into any number of frames.
    with running(WebSocketOptions(max_size=64 * 1024)) as addr:
        s = raw_connect(addr)
        body = b"".join(
            frame(0x0, b"ab", fin=False) for _ in range(20_000)
        )  # 40,000 bytes in 20,001 frames
        s.sendall(frame(0x2, b"", fin=False) + body + frame(0x0, b"!"))
        assert read_frames(s, count=1) == [(0x2, b"ab" * 20_000 + b"!")]
        s.sendall(frame(0x8, struct.pack("!H", 1000)))
        s.close()
        # Past max_size, however it is split: 1009.
        s = raw_connect(addr)
        s.sendall(
            frame(0x1, b"", fin=False)
            + b"".join(frame(0x0, b"x" * 1024, fin=False) for _ in range(64))
            + frame(0x0, b"x")
        )
        assert raw_close_code(read_frames(s)) == 1009
        s.close()
        assert_still_serves(addr)


def test_close_between_fragments_is_echoed_and_later_frames_are_ignored():
    # Autobahn 7.1.5. RFC 6455 5.4: control frames may come between fragments; 5.5.1: the
    # Close is answered, echoing its code; 1.4: what follows a Close is discarded.
    with running() as addr:
        s = raw_connect(addr)
        s.sendall(
            frame(0x1, b"fragment1", fin=False)
            + frame(0x8, struct.pack("!H", 1000) + b"bye")
            + frame(0x0, b"fragment2")
        )
        assert read_frames(s, until_close=False) == [(0x8, struct.pack("!H", 1000) + b"bye")]
        s.close()
        assert_still_serves(addr)


@pytest.mark.parametrize(
    "wire, code",
    [
        (frame(0x1, b"\xff\xfe bad utf-8"), 1007),
        (frame(0x1, b"\xe2\x82", fin=False) + frame(0x0, b"\x28"), 1007),
        (frame(0x1, b"unmasked", mask=False), 1002),
        (frame(0x3, b"reserved opcode"), 1002),
        (frame(0x0, b"continuation without a start"), 1002),
        (
            frame(0x1, b"a", fin=False) + frame(0x1, b"b"),
            1002,
        ),  # a new message before the last ended
        (frame(0x8, struct.pack("!H", 999)), 1002),  # a close code no one may send
        (frame(0x8, b"\x03"), 1002),  # a one-byte close payload
        (frame(0x9, b"p" * 200), 1002),  # control frames are at most 125 bytes
        (bytes([0xC1, 0x80]) + b"\x00\x00\x00\x00", 1002),  # RSV1 without an extension
    ],
    ids=[
        "bad-utf8",
        "bad-utf8-fragmented",
        "unmasked",
        "reserved-opcode",
        "stray-continuation",
        "message-mid-fragments",
        "bad-close-code",
        "short-close",
        "long-control-frame",
        "rsv-bit",
    ],
)
def test_malformed_frames_close_with_the_right_code(wire, code):
    with running() as addr:
        s = raw_connect(addr)
        s.sendall(wire)
        assert raw_close_code(read_frames(s)) == code
        s.close()
        assert_still_serves(addr)


def test_keepalive_ping_timeout_closes_1011():
    with running(WebSocketOptions(ping_interval=0.2, ping_timeout=0.3)) as addr:
        s = raw_connect(addr)  # a client that never answers pings
        frames = read_frames(s, timeout=5)
        assert any(op == 0x9 for op, _ in frames)
        assert raw_close_code(frames) == 1011
        s.close()


def test_keepalive_pong_keeps_the_connection_open():
    with running(WebSocketOptions(ping_interval=0.1, ping_timeout=0.2)) as addr:
        with connect(f"ws://{addr}/echo") as ws:  # the websockets client answers pings
            time.sleep(0.6)
            ws.send("alive")
            assert ws.recv(timeout=5) == "alive"
            assert ws.ping().wait(5)  # and our server answers the client's pings


def test_idle_timeout_closes_1001():
    with running(WebSocketOptions(idle_timeout=0.3, ping_interval=None)) as addr:
        with connect(f"ws://{addr}/echo") as ws:
            ws.send("one")
            assert ws.recv(timeout=5) == "one"
            t0 = time.monotonic()
            with pytest.raises(ConnectionClosed) as e:
                ws.recv(timeout=5)
            assert close_code(e.value) == 1001
            assert time.monotonic() - t0 < 3


def test_permessage_deflate_is_negotiated_when_offered():
    text = "compressible " * 10000
    with running() as addr:
        with connect(f"ws://{addr}/echo") as ws:
            assert [e.name for e in ws.protocol.extensions] == ["permessage-deflate"]
            ws.send(text)
            assert ws.recv(timeout=5) == text
        with connect(f"ws://{addr}/echo", compression=None) as ws:
            assert ws.protocol.extensions == []
            ws.send("plain")
            assert ws.recv(timeout=5) == "plain"
    with running(WebSocketOptions(compression=False)) as addr:
        with connect(f"ws://{addr}/echo") as ws:
            assert ws.protocol.extensions == []


def test_decompression_bomb_is_capped_by_max_size():
    with running(WebSocketOptions(max_size=100_000)) as addr:
        with connect(f"ws://{addr}/echo", max_size=None) as ws:
            ws.send("\x00" * 1_000_000)  # compresses to ~1 KiB, inflates past the cap
            with pytest.raises(ConnectionClosed) as e:
                ws.recv(timeout=5)
            assert close_code(e.value) == 1009


def test_send_waits_for_a_slow_reader():
    n = 400  # 25 MiB: far more than the socket buffers hold
    with running() as addr:
        with connect(f"ws://{addr}/flood/{n}", compression=None, max_size=None, max_queue=1) as ws:
            time.sleep(0.5)
            assert progress["sent"] < n  # the handler is blocked in send_bytes
            got = 0
            try:
                while True:
                    ws.recv(timeout=10)
                    got += 1
            except ConnectionClosed as e:
                assert close_code(e) == 1000
            assert got == n


def test_a_client_that_stops_reading_is_dropped_after_write_timeout():
    with running(WebSocketOptions(write_timeout=0.5, ping_interval=None)) as addr:
        s = raw_connect(addr, "/flood/1000")  # never reads
        deadline = time.monotonic() + 10
        while not progress.get("ended"):
            assert time.monotonic() < deadline, "the blocked send was never given up"
            time.sleep(0.05)
        assert progress["sent"] < 1000
        s.close()
        assert_still_serves(addr)


def test_bad_handshakes_get_http_errors():
    with running() as addr:
        host, port = addr.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(
                b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )  # no key
            assert s.recv(4096).startswith(b"HTTP/1.1 400")
        with pytest.raises(InvalidStatus) as e:
            connect(f"ws://{addr}/nowhere")
        assert e.value.response.status_code == 404
        assert_still_serves(addr)


def test_client_vanishing_mid_message_is_harmless():
    with running() as addr:
        for _ in range(5):
            s = raw_connect(addr)
            s.sendall(frame(0x2, b"z" * 1000)[:50])  # half a frame, then gone
            s.close()
        assert_still_serves(addr)


def test_graceful_shutdown_closes_open_connections_with_1001():
    config = Config(
        make_app(), port=0, log_level="warning", access_log=False, timeout_graceful_shutdown=5
    )
    server = Server(config)
    result: dict[str, int | None] = {}
    running_server = server.run_in_thread()
    running_server.__enter__()
    stopped = False
    try:
        with connect(f"ws://127.0.0.1:{server.port}/echo") as ws:
            ws.send("hi")
            assert ws.recv(timeout=5) == "hi"

            def reader():
                try:
                    ws.recv(timeout=10)
                except ConnectionClosed as e:
                    result["code"] = close_code(e)

            t = threading.Thread(target=reader)
            t.start()
            t0 = time.monotonic()
            running_server.__exit__(None, None, None)  # graceful stop with the client connected
            stopped = True
            t.join(10)
    finally:
        if not stopped:
            running_server.__exit__(None, None, None)
    assert result == {"code": 1001}
    assert time.monotonic() - t0 < 4
