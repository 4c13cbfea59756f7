"""The app every WebSocket e2e server serves (uvicorn, hypercorn, lcore's server, side-by-side)."""

import os

import anyio

from lcore import Lcore, abort, ctx, request
from lcore_ws import Broadcast

app = Lcore()
broadcast = Broadcast(os.environ.get("BROADCAST_URL", "memory://"))
STARTED = {"startup": False}


@app.hook("startup")
def startup():
    STARTED["startup"] = True


@app.hook("before_request")
def auth():
    if request.path.startswith("/private") and request.query.get("token") != "sesame":
        abort(401, "no token")
    ctx.user = request.query.get("token")


app.inject("counter", lambda: {"n": 0})


@app.route("/health")
def health():
    return "ok"


@app.route("/pid")
def pid():
    return str(os.getpid())


@app.websocket("/echo")
async def echo(ws):
    await ws.accept()
    async for message in ws:
        await ws.send(message)


@app.websocket("/sync-echo/<n:int>")
def sync_echo(ws, n):
    ws.accept()
    for message in ws:
        ws.send_text(message * n)


@app.websocket("/private")
async def private(ws):
    await ws.accept()
    ctx.counter["n"] += 1
    await ws.send_json(
        {
            "user": ctx.user,
            "startup": STARTED["startup"],
            "pid": os.getpid(),
            "connections": ctx.counter["n"],
        }
    )


@app.websocket("/room/<room>")
async def room(ws, room):
    """Relay the room's broadcast channel; messages sent here are published to it."""
    await ws.accept()
    async with broadcast.subscribe(room) as sub, anyio.create_task_group() as tg:

        async def relay():
            async for event in sub:
                await ws.send_text(event.message)

        tg.start_soon(relay)
        await ws.send_json({"pid": os.getpid()})
        async for text in ws:
            await broadcast.publish(room, text)
        tg.cancel_scope.cancel()
