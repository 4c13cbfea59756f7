"""The app module every e2e server serves: the same `app` object for WSGI and ASGI."""

import asyncio
import os
import threading
import time

from lcore import Lcore, ctx, on_shutdown, request, response

app = Lcore()
MARKS = os.environ.get("E2E_MARKS", "")


def _mark(name: str) -> None:
    if MARKS:
        with open(os.path.join(MARKS, f"{name}-{os.getpid()}"), "w") as f:
            f.write(name)


class LoopBound:
    """A singleton bound to the event loop it was made on (like an httpx.AsyncClient pool)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.uses = 0

    async def sleep(self, seconds: float) -> int:
        if asyncio.get_running_loop() is not self.loop:
            raise RuntimeError("used from another event loop")
        fut = self.loop.create_future()
        self.loop.call_later(seconds, fut.set_result, None)
        await fut
        self.uses += 1
        return self.uses


async def make_loop_bound() -> LoopBound:
    return LoopBound()


app.inject("bound", make_loop_bound, lifetime="singleton")


async def make_http_client():
    import httpx

    return httpx.AsyncClient(timeout=10)


app.inject("http", make_http_client, lifetime="singleton")


@app.hook("startup")
def started():
    _mark("startup")


@on_shutdown
def stopped():
    _mark("shutdown")


@app.hook("shutdown")
def app_stopped():
    _mark("apphook_shutdown")


@app.hook("shutdown")
async def app_stopped_async():
    await asyncio.sleep(0)
    _mark("asynchook_shutdown")


@app.route("/health")
def health():
    return {"ok": True}


@app.route("/")
def index():
    return "Hello, World!"


@app.route("/users/<id:int>")
def user(id):
    response.set_header("X-User", str(id))
    return {"id": id, "q": request.query.get("q"), "async": False}


@app.route("/ausers/<id:int>")
async def auser(id):
    await asyncio.sleep(0)
    return {"id": id, "q": request.query.get("q"), "async": True}


@app.post("/echo")
def echo():
    return {"json": request.json, "ctype": request.content_type}


@app.post("/form")
def form():
    f = request.files.get("upload")
    return {
        "name": request.forms.get("name"),
        "file": f.filename if f else None,
        "size": len(f.file.read()) if f else 0,
    }


@app.route("/cookie")
def cookie():
    response.set_cookie("signed", {"n": 1}, secret="s3cret")
    return "ok"


@app.route("/cookie/read")
def cookie_read():
    return {"value": request.get_cookie("signed", secret="s3cret")}


@app.route("/stream")
def stream():
    for i in range(3):
        yield f"chunk{i}\n"


@app.route("/astream")
async def astream():
    for i in range(3):
        await asyncio.sleep(0)
        yield f"chunk{i}\n"


@app.route("/missing")
def missing():
    from lcore import abort

    abort(404, "nothing here")


@app.route("/boom")
def boom():
    raise ValueError("boom")


@app.route("/redirect")
def go():
    from lcore import redirect

    redirect("/users/1")


@app.route("/sleep-async")
async def sleep_async():
    uses = await ctx.bound.sleep(0.5)
    return {"slept": 0.5, "uses": uses, "thread": threading.get_ident()}


@app.route("/sleep-sync")
def sleep_sync():
    time.sleep(0.5)
    return {"slept": 0.5}


@app.route("/proxy")
async def proxy():
    """Call an upstream through one AsyncClient shared by every request (loop-bound pool)."""
    r = await ctx.http.get(os.environ["E2E_UPSTREAM"] + "/users/7")
    return {"upstream": r.json(), "client": id(ctx.http)}
