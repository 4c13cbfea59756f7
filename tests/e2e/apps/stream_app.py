"""The streaming e2e app: SSE and streamed bodies, served by every e2e server.

``E2E_MARKS`` names a directory; streams write a marker file there from their
``finally`` so tests can see that cleanup ran after a disconnect or a shutdown.
"""

import asyncio
import os
import time

from lcore import Lcore, ServerSentEvent, ctx, request, sse

app = Lcore()
MARKS = os.environ.get("E2E_MARKS", "")


def _mark(name: str) -> None:
    if MARKS and name:
        with open(os.path.join(MARKS, name), "w") as f:
            f.write(str(time.time()))


@app.get("/health")
def health():
    return "ok"


def _args():
    q = request.query
    return (
        int(q.get("n", "5")),
        float(q.get("gap", "0.3")),
        q.get("mark", ""),
        float(q.get("hb", "15")),
    )


@app.get("/sse")
async def sse_async():
    """``n`` events ``gap`` seconds apart, each carrying the time it was produced."""
    n, gap, mark, hb = _args()

    async def events():
        try:
            for i in range(n):
                if i:
                    await asyncio.sleep(gap)
                yield ServerSentEvent({"i": i, "t": time.time()}, id=i)
        finally:
            _mark(mark)

    return sse(events(), heartbeat=hb)


@app.get("/sse-sync")
def sse_sync():
    """The same from a sync handler with a blocking generator."""
    n, gap, mark, hb = _args()

    def events():
        try:
            for i in range(n):
                if i:
                    time.sleep(gap)
                yield ServerSentEvent({"i": i, "t": time.time()}, id=i)
        finally:
            _mark(mark)

    return sse(events(), heartbeat=hb)


@app.get("/stream")
def stream():
    """A plain streamed body: ``n`` lines ``gap`` seconds apart."""
    n, gap, mark, _hb = _args()

    def lines():
        try:
            for i in range(n):
                if i:
                    time.sleep(gap)
                yield f"{i} {time.time()}\n"
        finally:
            _mark(mark)

    return lines()


@app.get("/astream")
async def astream():
    n, gap, mark, _hb = _args()

    async def lines():
        try:
            for i in range(n):
                if i:
                    await asyncio.sleep(gap)
                yield f"{i} {time.time()}\n"
        finally:
            _mark(mark)

    return lines()


@app.post("/upload")
def upload():
    """Count the request body as it arrives; report when each chunk came."""
    seen = []
    for chunk in request.stream():
        seen.append([len(chunk), time.time()])
    return {"chunks": seen}


@app.get("/after")
def after():
    ctx.after_response(_mark, request.query.get("mark", ""))
    return "sent"
