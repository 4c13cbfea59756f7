"""WebSockets on real servers with the real ``websockets`` client: uvicorn, hypercorn,
lcore's embedded server, and the side-by-side server next to gunicorn; broadcast across
workers and servers through a real Redis, which is restarted under the subscribers."""

from __future__ import annotations

import json
import ssl
import struct
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect

from ._servers import serve

pytestmark = pytest.mark.e2e

SERVERS = ["uvicorn", "hypercorn", "lcore", "side-by-side"]
#: Servers whose WebSocket limits are lcore's own (the sans-I/O driver).
OURS = {"lcore", "side-by-side"}
MiB16 = 16 * 1024 * 1024


@pytest.mark.parametrize("kind", SERVERS)
def test_same_behaviour_on_every_server(kind: str, tmp_path: Path) -> None:
    with serve(kind, tmp_path) as addr:
        url = f"ws://{addr}"
        with connect(url + "/echo") as ws:
            ws.send("hello")
            assert ws.recv(timeout=5) == "hello"
            ws.send(b"\x01\x02")
            assert ws.recv(timeout=5) == b"\x01\x02"
            ws.send("é" * 50_000)
            assert ws.recv(timeout=5) == "é" * 50_000
        with connect(url + "/sync-echo/3") as ws:
            ws.send("ab")
            assert ws.recv(timeout=5) == "ababab"
        with connect(url + "/private?token=sesame") as ws:
            info = json.loads(ws.recv(timeout=5))
            assert info["user"] == "sesame"
            assert info["startup"] is True  # lifespan ran the app's startup hooks
        with pytest.raises(InvalidStatus) as e:
            connect(url + "/private")
        # 401 where the server offers websocket.http.response; 403 (the ASGI fallback) elsewhere.
        assert e.value.response.status_code in (401, 403)
        if kind in OURS:
            assert e.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as e:
            connect(url + "/no-such-route")
        assert e.value.response.status_code in (403, 404)
        # Many short-lived connections: each closes cleanly and nothing leaks into the next.
        for i in range(30):
            with connect(url + "/echo") as ws:
                ws.send(str(i))
                assert ws.recv(timeout=5) == str(i)


@pytest.mark.parametrize("kind", sorted(OURS))
def test_limits_and_malformed_input_on_our_servers(kind: str, tmp_path: Path) -> None:
    with serve(kind, tmp_path) as addr:
        url = f"ws://{addr}"
        with connect(url + "/echo", max_size=None, compression=None) as ws:
            ws.send("x" * MiB16)  # the default max_size: 16 MiB, as uvicorn's and hypercorn's
            assert ws.recv(timeout=30) == "x" * MiB16
            with pytest.raises(ConnectionClosed) as e:
                ws.send("x" * (MiB16 + 1))  # the 1009 may reach the client while it still sends
                ws.recv(timeout=30)
            assert e.value.rcvd is not None and e.value.rcvd.code == 1009
        from .test_driver import frame, raw_close_code, raw_connect, read_frames

        s = raw_connect(addr)
        s.sendall(frame(0x1, b"\xc3\x28"))
        assert raw_close_code(read_frames(s)) == 1007
        s.close()
        s = raw_connect(addr)
        s.sendall(frame(0x2, b"unmasked", mask=False))
        assert raw_close_code(read_frames(s)) == 1002
        s.close()
        with connect(url + "/echo") as ws:  # the worker is still fine
            ws.send("ok")
            assert ws.recv(timeout=5) == "ok"


@pytest.mark.parametrize("kind", ["lcore", "side-by-side", "uvicorn"])
def test_wss_close_handshake_ends_the_tls_session_and_connection_at_once(
    kind: str, tmp_path: Path, tls_files: tuple[str, str]
) -> None:
    """RFC 6455 7.1.1: after the closing handshake the server closes the connection; over
    TLS it cannot half-close, so it ends the TLS session (close_notify) and the TCP
    connection, instead of leaving the client to time out. (uvicorn: the reference.)"""
    from .test_driver import frame, raw_close_code, raw_connect, read_frames

    context = ssl.create_default_context(cafile=tls_files[0])
    with serve(kind, tmp_path, tls=tls_files) as addr:
        # The websockets client: close() returns once the server closed the connection.
        with connect(f"wss://{addr}/echo", ssl=context, close_timeout=3) as ws:
            ws.send("over tls")
            assert ws.recv(timeout=5) == "over tls"
            t0 = time.monotonic()
            ws.close()
            elapsed = time.monotonic() - t0
        assert ws.protocol.close_code == 1000
        assert elapsed < 1.0, f"close took {elapsed:.2f}s"
        # The server closes first (the handler returns): the same once the client answers.
        with connect(f"wss://{addr}/private?token=sesame", ssl=context, close_timeout=3) as ws:
            json.loads(ws.recv(timeout=5))
            t0 = time.monotonic()
            with pytest.raises(ConnectionClosedOK):
                ws.recv(timeout=5)
            ws.recv_events_thread.join(5)  # ends when the connection is closed
            elapsed = time.monotonic() - t0
        assert elapsed < 1.0, f"the server's close took {elapsed:.2f}s"
        # A raw TLS client: the Close is echoed, then close_notify (a clean TLS EOF, not a
        # bare TCP FIN), then the TCP connection ends once we answer with our close_notify.
        s = raw_connect(addr, tls=context)
        t0 = time.monotonic()
        s.sendall(frame(0x8, struct.pack("!H", 1000)))
        assert raw_close_code(read_frames(s)) == 1000
        s.settimeout(3)
        assert s.recv(1) == b"", "data after the Close echo"  # SSLEOFError here: no close_notify
        plain = s.sock.unwrap()  # type: ignore[attr-defined]
        assert plain.recv(1) == b""  # the server closed the TCP connection
        elapsed = time.monotonic() - t0
        plain.close()
        assert elapsed < 1.0, f"the connection ended {elapsed:.2f}s after the Close"


def _vm_hwm(pid: int) -> int:
    """Peak resident set size of process ``pid`` in bytes (Linux: VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("kind", ["lcore", "side-by-side", "uvicorn"])
def test_4_mib_message_in_64_byte_fragments_echoes(kind: str, tmp_path: Path, capsys) -> None:
    """Autobahn 9.3.x/9.4.x: reassembly is bounded by the message size, not a fragment count."""
    size, step = 4 * 1024 * 1024, 64
    text = "".join(f"{i:07d}|" for i in range(size // 8))
    binary = bytes((i * 7 + i // 251) & 0xFF for i in range(size))
    with serve(kind, tmp_path) as addr:
        with connect(f"ws://{addr}/private?token=sesame") as ws:
            pid = json.loads(ws.recv(timeout=5))["pid"]
        before = _vm_hwm(pid)
        with connect(f"ws://{addr}/echo", compression=None, max_size=None) as ws:
            ws.send(text[i : i + step] for i in range(0, size, step))  # 65,536 frames
            assert ws.recv(timeout=60) == text
            ws.send(binary[i : i + step] for i in range(0, size, step))
            assert ws.recv(timeout=60) == binary
        peak = _vm_hwm(pid)
    with capsys.disabled():
        print(
            f"\n[{kind}] 4 MiB in 64-byte fragments, text + binary: server VmHWM "
            f"{before / 2**20:.1f} MiB before, {peak / 2**20:.1f} MiB after"
        )
    assert peak < 200 * 2**20


def test_side_by_side_next_to_gunicorn(tmp_path: Path) -> None:
    with serve("gunicorn", tmp_path) as http_addr, serve("side-by-side", tmp_path) as ws_addr:
        assert httpx.get(f"http://{http_addr}/health").text == "ok"
        r = httpx.get(f"http://{ws_addr}/health")
        assert r.status_code == 426  # the side-by-side server serves WebSockets only
        for n in (1, 2):
            with connect(f"ws://{ws_addr}/private?token=sesame") as ws:
                info = json.loads(ws.recv(timeout=5))
                # One app object in the side-by-side server: DI singleton shared by connections.
                assert info["connections"] == n


def _join(stack: ExitStack, url: str, room: str) -> tuple[object, int]:
    ws = stack.enter_context(connect(f"{url}/room/{room}"))
    pid = json.loads(ws.recv(timeout=5))["pid"]
    return ws, pid


def _expect(ws, text: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        got = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        if got == text:
            return


def _pair(stack: ExitStack, url_a: str, url_b: str, room: str) -> tuple[object, object]:
    """Two connections in ``room`` served by different processes."""
    a, pid_a = _join(stack, url_a, room)
    # With 2 workers on one port, whichever worker wakes first accepts; on a loaded machine
    # the second worker may still be importing the app. Keep trying for a bounded time.
    deadline = time.monotonic() + 30
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        candidate = ExitStack()
        b, pid_b = _join(candidate, url_b, room)
        if pid_b != pid_a:
            stack.enter_context(candidate)  # stays open with the rest
            return a, b
        candidate.close()
        time.sleep(0.05)
    pytest.fail(f"never reached a second worker in {tries} connections over 30 s")


def check_cross_delivery(url_a: str, url_b: str, room: str) -> None:
    """A message sent through a connection on one process reaches one on another."""
    with ExitStack() as stack:
        a, b = _pair(stack, url_a, url_b, room)
        a.send("from a")
        _expect(b, "from a")
        b.send("from b")
        _expect(a, "from b")


def check_restart_and_resume(redis_server, url_a: str, url_b: str, room: str) -> None:
    with ExitStack() as stack:
        a, b = _pair(stack, url_a, url_b, room)
        redis_server.stop()
        time.sleep(1.0)
        redis_server.start()  # same port
        deadline = time.monotonic() + 20
        n = 0
        while True:  # publishing resumes once both workers re-subscribed
            n += 1
            try:
                a.send(f"after restart {n}")
                if b.recv(timeout=0.5).startswith("after restart"):
                    break
            except TimeoutError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("subscribers did not resume after the Redis restart")
        b.send("and back")
        _expect(a, "and back")


def test_broadcast_across_two_uvicorn_workers_and_redis_restart(
    redis_server, tmp_path: Path
) -> None:
    env = {"BROADCAST_URL": redis_server.url}
    with serve("uvicorn", tmp_path, workers=2, env=env) as addr:
        url = f"ws://{addr}"
        check_cross_delivery(url, url, "lobby")
        check_restart_and_resume(redis_server, url, url, "lobby2")


def test_broadcast_across_two_side_by_side_servers_and_redis_restart(
    redis_server, tmp_path: Path
) -> None:
    env = {"BROADCAST_URL": redis_server.url}
    with (
        serve("side-by-side", tmp_path, env=env) as a,
        serve("side-by-side", tmp_path, env=env) as b,
    ):
        check_cross_delivery(f"ws://{a}", f"ws://{b}", "lobby")
        check_restart_and_resume(redis_server, f"ws://{a}", f"ws://{b}", "lobby2")
