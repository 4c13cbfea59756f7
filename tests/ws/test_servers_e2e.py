"""WebSockets on real servers with the real ``websockets`` client: uvicorn, hypercorn,
lcore's embedded server, and the side-by-side server next to gunicorn; broadcast across
workers and servers through a real Redis, which is restarted under the subscribers."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ._servers import serve

pytestmark = pytest.mark.e2e

SERVERS = ["uvicorn", "hypercorn", "lcore", "side-by-side"]
#: Servers whose WebSocket limits are lcore's own (the sans-I/O driver).
OURS = {"lcore", "side-by-side"}


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
        with connect(url + "/echo", max_size=None) as ws:
            ws.send("x" * (1024 * 1024 + 10))
            with pytest.raises(ConnectionClosed) as e:
                ws.recv(timeout=5)
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
    for _ in range(40):  # with 2 workers on one port, the kernel picks the worker
        b, pid_b = _join(stack, url_b, room)
        if pid_b != pid_a:
            return a, b
    pytest.fail("never reached a second worker")


def _cross_delivery(url_a: str, url_b: str, room: str) -> None:
    """A message sent through a connection on one process reaches one on another."""
    with ExitStack() as stack:
        a, b = _pair(stack, url_a, url_b, room)
        a.send("from a")
        _expect(b, "from a")
        b.send("from b")
        _expect(a, "from b")


def _restart_and_resume(redis_server, url_a: str, url_b: str, room: str) -> None:
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


def test_broadcast_across_two_uvicorn_workers_and_redis_restart(redis_server, tmp_path: Path) -> None:
    env = {"BROADCAST_URL": redis_server.url}
    with serve("uvicorn", tmp_path, workers=2, env=env) as addr:
        url = f"ws://{addr}"
        _cross_delivery(url, url, "lobby")
        _restart_and_resume(redis_server, url, url, "lobby2")


def test_broadcast_across_two_side_by_side_servers_and_redis_restart(redis_server, tmp_path: Path) -> None:
    env = {"BROADCAST_URL": redis_server.url}
    with serve("side-by-side", tmp_path, env=env) as a, serve("side-by-side", tmp_path, env=env) as b:
        _cross_delivery(f"ws://{a}", f"ws://{b}", "lobby")
        _restart_and_resume(redis_server, f"ws://{a}", f"ws://{b}", "lobby2")
