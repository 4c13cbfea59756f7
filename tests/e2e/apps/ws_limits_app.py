"""An app with a WebSocket route, an SSE stream and an in-memory broadcast, for the
tests of what a WSGI server (or a server without ``websockets``) cannot do."""

import asyncio
import os
import time

from lcore import Lcore, ServerSentEvent, sse
from lcore_ws import Broadcast

app = Lcore()
broadcast = Broadcast()
MARKS = os.environ.get("E2E_MARKS", "")


@app.get("/health")
def health():
    return "ok"


@app.websocket("/ws/<room>")
async def room(ws, room):
    await ws.accept()
    await ws.send_text(f"hi {room}")
    await ws.close()


@app.get("/sse")
async def events_route():
    """An unbounded SSE stream (``n`` events, ``gap`` s apart); marks its cleanup."""
    from lcore import request

    n, gap = int(request.query.get("n", "1000")), float(request.query.get("gap", "0.5"))

    async def events():
        try:
            for i in range(n):
                if i:
                    await asyncio.sleep(gap)
                yield ServerSentEvent({"i": i}, id=i)
        finally:
            if MARKS:
                with open(os.path.join(MARKS, f"sse-{os.getpid()}-{time.time()}"), "w") as f:
                    f.write("closed")

    return sse(events(), heartbeat=60)


@app.post("/publish/<channel>")
async def publish(channel):
    return {"sent": await broadcast.publish(channel, "x"), "pid": os.getpid()}
