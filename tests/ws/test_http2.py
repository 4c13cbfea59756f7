"""WebSockets over HTTP/2 (RFC 8441, extended CONNECT) on lcore's embedded server.

The client is h2 (HTTP/2 framing) plus the ``websockets`` sans-I/O client protocol in
state OPEN (WebSocket framing inside the stream's DATA), over a real socket.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.protocol import OPEN
from websockets.uri import parse_uri

from lcore import Lcore, abort, request
from lcore_asgi.server import Config, Server


class H2Client:
    """One HTTP/2 connection that can open WebSocket streams and plain requests."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        self.flush()
        self.events: dict[int, list] = {}
        self.settings_seen = False
        while not self.settings_seen:
            self.pump()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                self.settings_seen = True
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            sid = getattr(event, "stream_id", None)
            if sid:
                self.events.setdefault(sid, []).append(event)
        self.flush()

    @property
    def connect_protocol_enabled(self) -> bool:
        return self.conn.remote_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL) == 1

    def next_event(self, sid: int):
        while not self.events.get(sid):
            self.pump()
        return self.events[sid].pop(0)

    def websocket(self, path: str, headers: list[tuple[bytes, bytes]] = ()) -> H2WebSocket:
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            sid,
            [
                (b":method", b"CONNECT"),
                (b":protocol", b"websocket"),
                (b":scheme", b"http"),
                (b":path", path.encode()),
                (b":authority", b"localhost"),
                (b"sec-websocket-version", b"13"),
                *headers,
            ],
        )
        self.flush()
        return H2WebSocket(self, sid)

    def get(self, path: str) -> tuple[int, bytes]:
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            sid,
            [
                (b":method", b"GET"),
                (b":scheme", b"http"),
                (b":path", path.encode()),
                (b":authority", b"localhost"),
            ],
            end_stream=True,
        )
        self.flush()
        status, body = 0, b""
        while True:
            event = self.next_event(sid)
            if isinstance(event, h2.events.ResponseReceived):
                status = int(dict(event.headers)[b":status"])
            elif isinstance(event, h2.events.DataReceived):
                body += event.data
            elif isinstance(event, h2.events.StreamEnded):
                return status, body

    def close(self) -> None:
        self.sock.close()


class H2WebSocket:
    def __init__(self, client: H2Client, sid: int) -> None:
        self.client = client
        self.sid = sid
        event = client.next_event(sid)
        assert isinstance(event, h2.events.ResponseReceived), event
        self.headers = dict(event.headers)
        self.status = int(self.headers[b":status"])
        self.ended = False
        self.body = b""
        if self.status != 200:
            while not self.ended:
                e = client.next_event(sid)
                if isinstance(e, h2.events.DataReceived):
                    self.body += e.data
                elif isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)):
                    self.ended = True
            return
        self.ws = ClientProtocol(parse_uri("ws://localhost/"), state=OPEN)

    def _write(self) -> None:
        try:
            self._write_frames()
        except h2.exceptions.ProtocolError:
            self.ws.data_to_send()  # h2 sends nothing after the server's GOAWAY (shutdown)

    def _write_frames(self) -> None:
        conn = self.client.conn
        for data in self.ws.data_to_send():
            if not data:
                if not self.ended:
                    conn.end_stream(self.sid)
                continue
            while data:  # respect the server's flow-control windows
                window = min(conn.local_flow_control_window(self.sid), conn.max_outbound_frame_size)
                if window <= 0:
                    self.client.flush()
                    self.client.pump()
                    continue
                conn.send_data(self.sid, data[:window])
                data = data[window:]
        self.client.flush()

    def send_text(self, text: str) -> None:
        self.ws.send_text(text.encode())
        self._write()

    def recv(self):
        """The next message, or ('close', code, reason)."""
        while True:
            for frame in self.ws.events_received():
                if frame.opcode is Opcode.TEXT:
                    return frame.data.decode()
                if frame.opcode is Opcode.BINARY:
                    return frame.data
                if frame.opcode is Opcode.CLOSE:
                    self._write()
                    rcvd = self.ws.close_rcvd
                    return ("close", rcvd.code, rcvd.reason)
            event = self.client.next_event(self.sid)
            if isinstance(event, h2.events.DataReceived):
                self.ws.receive_data(event.data)
                self._write()
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                self.ended = True
                self.ws.receive_eof()
                return ("ended",)

    def close(self, code: int = 1000) -> tuple:
        self.ws.send_close(code)
        self._write()
        return self.recv()


def make_app() -> Lcore:
    app = Lcore()

    @app.hook("before_request")
    def auth():
        if request.query.get("deny"):
            abort(401, "denied")

    @app.websocket("/echo")
    async def echo(ws):
        await ws.accept()
        await ws.send_text(f"http/{ws.scope['http_version']} {ws.request.http_version}")
        async for message in ws:
            await ws.send(message)

    @app.websocket("/bye")
    def bye(ws):
        ws.accept()
        ws.close(4005, "done")

    app.route("/plain", callback=lambda: "plain")
    return app


@contextmanager
def h2_server() -> Iterator[int]:
    server = Server(
        Config(
            make_app(), port=0, log_level="warning", access_log=False, timeout_graceful_shutdown=3
        )
    )
    with server.run_in_thread():
        yield server.port


def test_settings_advertise_extended_connect():
    with h2_server() as port:
        client = H2Client(port)
        try:
            assert client.connect_protocol_enabled
        finally:
            client.close()


def test_echo_over_http2_multiplexed_with_requests():
    with h2_server() as port:
        client = H2Client(port)
        try:
            a = client.websocket("/echo")
            b = client.websocket("/echo")
            assert a.status == b.status == 200
            assert b"sec-websocket-accept" not in a.headers  # RFC 8441: 200, no accept key
            assert a.recv() == "http/2 2"
            assert b.recv() == "http/2 2"
            a.send_text("on stream a")
            b.send_text("on stream b")
            assert b.recv() == "on stream b"
            assert a.recv() == "on stream a"
            assert client.get("/plain") == (200, b"plain")  # same connection, plain HTTP/2
            a.send_text("é" * 100_000)  # larger than a DATA frame and the initial window
            assert a.recv() == "é" * 100_000
            assert a.close(1000) == ("close", 1000, "")
            b.send_text("b still open")
            assert b.recv() == "b still open"
        finally:
            client.close()


def test_rejections_and_server_close_over_http2():
    with h2_server() as port:
        client = H2Client(port)
        try:
            denied = client.websocket("/echo?deny=1")
            assert denied.status == 401
            assert b"denied" in denied.body
            missing = client.websocket("/nowhere")
            assert missing.status == 404
            bye = client.websocket("/bye")
            assert bye.status == 200
            assert bye.recv() == ("close", 4005, "done")
        finally:
            client.close()


def test_graceful_shutdown_closes_http2_websockets_with_1001():
    # h2's client sends nothing after a GOAWAY, so the closing handshake cannot finish:
    # the server gives up after its graceful-shutdown timeout.
    server = Server(
        Config(
            make_app(), port=0, log_level="warning", access_log=False, timeout_graceful_shutdown=1
        )
    )
    running = server.run_in_thread()
    running.__enter__()
    try:
        client = H2Client(server.port)
        ws = client.websocket("/echo")
        assert ws.recv() == "http/2 2"
    finally:
        stopper = threading.Thread(target=running.__exit__, args=(None, None, None))
        stopper.start()
    try:
        assert ws.recv() == ("close", 1001, "server shutting down")
    finally:
        stopper.join(10)
        client.close()
