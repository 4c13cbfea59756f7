"""``ctx.after_response(fn, *args, **kwargs)``: work that runs once the response is sent."""

from __future__ import annotations

import logging
import threading

import anyio
import pytest

from lcore import Lcore, ctx, request, sse


def test_sync_and_async_tasks_run_after_the_response(make_client):
    app = Lcore()
    done = []
    finished = threading.Event()

    def record(what, *, extra=""):
        done.append(what + extra + ":" + request.path)

    async def arecord(what):
        await anyio.sleep(0)
        done.append(what)
        finished.set()

    @app.get("/sync")
    def sync_handler():
        ctx.after_response(record, "sync", extra="!")
        ctx.after_response(arecord, "then-async")
        done.append("handler")
        return "ok"

    @app.get("/async")
    async def async_handler():
        ctx.after_response(arecord, "async")
        done.append("handler")
        return {"ok": True}

    c = make_client(app)
    assert c.get("/sync").text == "ok"
    assert finished.wait(3)
    assert done == ["handler", "sync!:/sync", "then-async"]
    done.clear()
    finished.clear()
    assert c.get("/async").json == {"ok": True}
    assert finished.wait(3)
    assert done == ["handler", "async"]


@pytest.mark.parametrize("body", ["generator", "async generator", "sse"])
def test_tasks_wait_for_a_streamed_body_to_be_sent(make_client, body):
    app = Lcore()
    order = []
    finished = threading.Event()

    @app.get("/s")
    def s():
        ctx.after_response(lambda: (order.append("task"), finished.set()))

        def gen():
            for i in range(3):
                order.append(f"chunk{i}")
                yield f"{i}"

        async def agen():
            for i in range(3):
                order.append(f"chunk{i}")
                yield f"{i}"

        if body == "generator":
            return gen()
        if body == "async generator":
            return agen()
        return sse(gen(), heartbeat=None)

    r = make_client(app).get("/s")
    assert r.status_code == 200
    assert finished.wait(3)
    assert order == ["chunk0", "chunk1", "chunk2", "task"]


def test_a_failing_task_is_logged_not_sent(make_client, caplog):
    app = Lcore()
    ran = threading.Event()

    def broken():
        raise RuntimeError("task broke")

    @app.get("/")
    def index():
        ctx.after_response(broken)
        ctx.after_response(ran.set)  # later tasks still run
        return "fine"

    with caplog.at_level(logging.ERROR, logger="lcore.error"):
        r = make_client(app).get("/")
        assert ran.wait(3)
    assert (r.status_code, r.text) == (200, "fine")
    assert any("after-response task" in rec.getMessage() for rec in caplog.records)


def test_tasks_run_after_an_error_page_too(make_client):
    app = Lcore()
    ran = threading.Event()

    @app.get("/")
    def index():
        ctx.after_response(ran.set)
        raise ValueError("handler broke")

    assert make_client(app).get("/").status_code == 500
    assert ran.wait(3)
