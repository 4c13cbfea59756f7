"""The embedded server's socket stream: reads, backpressure, and closing under a blocked send."""

from __future__ import annotations

import asyncio
import socket

import anyio
import pytest

from lcore_asgi.server._fast_stream import FastSocketStream, open_fast_stream


def _pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    server.setblocking(False)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return server, client


async def _stalled_send(stream: anyio.abc.ByteStream, sent: list[int]) -> None:
    """Send until the peer's window is full and the send blocks; then keep blocking."""
    chunk = b"x" * 65536
    while True:
        await stream.send(chunk)
        sent.append(len(chunk))


def test_receive_and_send_round_trip():
    async def main() -> None:
        server, client = _pair()
        stream = await open_fast_stream(server)
        assert isinstance(stream, FastSocketStream)
        client.sendall(b"hello")
        assert await stream.receive() == b"hello"
        await stream.send(b"world")
        client.settimeout(5)
        assert client.recv(16) == b"world"
        client.shutdown(socket.SHUT_WR)
        with pytest.raises(anyio.EndOfStream):
            await stream.receive()
        await stream.aclose()
        client.close()

    asyncio.run(main())


@pytest.mark.parametrize("forcefully", [False, True], ids=["aclose", "aclose_forcefully"])
def test_closing_wakes_a_send_blocked_on_a_client_that_does_not_read(forcefully):
    async def main() -> None:
        server, client = _pair()
        stream = await open_fast_stream(server)
        sent: list[int] = []
        task = asyncio.ensure_future(_stalled_send(stream, sent))
        for _ in range(200):  # wait until the send is blocked by backpressure
            await asyncio.sleep(0.01)
            before = len(sent)
            await asyncio.sleep(0.05)
            if sent and len(sent) == before:
                break
        assert not task.done()
        if forcefully:
            await anyio.aclose_forcefully(stream)
        else:
            await stream.aclose()
        with pytest.raises(anyio.ClosedResourceError):
            await asyncio.wait_for(task, 5)
        if forcefully:
            # aborted: the peer sees a reset or an end, not 30 s of buffered data
            await asyncio.sleep(0.05)
            assert stream._transport.is_closing()
            assert stream._transport.get_write_buffer_size() == 0
        client.close()

    asyncio.run(main())
