"""TimeoutMiddleware: 503 at the deadline; async handlers cancelled; bounded threads."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from lcore import HTTPError, Lcore, TimeoutMiddleware, abort, ctx


def _app(timeout=0.2, **kw):
    app = Lcore()
    mw = app.use(TimeoutMiddleware(timeout, **kw))
    return app, mw


def test_fast_sync_and_async_handlers_pass(make_client):
    app, _ = _app(timeout=5)
    app.route("/s", callback=lambda: "sync")

    @app.route("/a")
    async def a():
        return "async"

    c = make_client(app)
    assert c.get("/s").text == "sync"
    assert c.get("/a").text == "async"


def test_slow_sync_handler_gets_503_at_the_deadline(make_client):
    app, _ = _app(timeout=0.2)
    release = threading.Event()
    seen = {}

    @app.route("/slow")
    def slow():
        release.wait(5)
        seen["timed_out"] = ctx.get("timed_out")
        return "late"

    c = make_client(app)
    t0 = time.monotonic()
    r = c.get("/slow")
    elapsed = time.monotonic() - t0
    release.set()
    assert r.status_code == 503
    assert elapsed < 3  # generous: the answer does not wait for the handler
    deadline = time.monotonic() + 5
    while "timed_out" not in seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen["timed_out"] is True  # the handler can see that it was abandoned


def test_slow_async_handler_is_cancelled(make_client):
    app, _ = _app(timeout=0.2)
    state = {"finished": False, "cancelled": False}

    @app.route("/slow")
    async def slow():
        try:
            await asyncio.sleep(3)
        except BaseException:
            state["cancelled"] = True
            raise
        state["finished"] = True
        return "late"

    c = make_client(app)
    t0 = time.monotonic()
    r = c.get("/slow")
    assert r.status_code == 503
    assert time.monotonic() - t0 < 2.5
    assert state == {"finished": False, "cancelled": True}


def test_error_handler_and_json_format_apply_to_the_503(make_client):
    app, _ = _app(timeout=0.1)
    app.config["error.format"] = "json"
    ev = threading.Event()
    app.route("/slow", callback=lambda: ev.wait(2) and "late")
    r = make_client(app).get("/slow")
    ev.set()
    assert r.status_code == 503
    assert r.json == {"error": "Request timed out.", "status": 503}


def test_http_errors_and_exceptions_pass_through(make_client):
    app, _ = _app(timeout=5)

    @app.route("/abort")
    def aborted():
        abort(418, "teapot")

    @app.route("/own-timeout")
    def own():
        raise TimeoutError("from the handler, not the middleware")

    @app.route("/aabort")
    async def aaborted():
        raise HTTPError(409, "conflict")

    c = make_client(app)
    assert c.get("/abort").status_code == 418
    assert c.get("/own-timeout").status_code == 500
    assert c.get("/aabort").status_code == 409


def test_no_thread_leak_after_many_timeouts(make_client):
    app, mw = _app(timeout=0.05, max_workers=3)
    release = threading.Event()
    hanging = set()

    def hang():
        hanging.add(threading.get_ident())
        return release.wait(10) and "late"

    app.route("/hang", callback=hang)
    c = make_client(app)
    c.get("/hang")  # warm up the server side (ASGI: its loop and worker threads)
    before = threading.active_count()
    try:
        for _ in range(25):
            assert c.get("/hang").status_code == 503
        # At most max_workers abandoned handlers hold threads, whatever the number of
        # timeouts: the others never started.
        assert len(hanging) <= 3
        assert threading.active_count() <= before + 3 + 2
    finally:
        release.set()


def test_queued_requests_never_start_when_the_pool_is_busy(make_client):
    app, _ = _app(timeout=0.1, max_workers=1)
    release = threading.Event()
    started = []

    @app.route("/hang/<n:int>")
    def hang(n):
        started.append(n)
        release.wait(5)
        return "late"

    c = make_client(app)
    assert c.get("/hang/1").status_code == 503
    assert c.get("/hang/2").status_code == 503  # waited behind /hang/1, cancelled in the queue
    release.set()
    time.sleep(0.3)
    assert started == [1]


def test_worker_threads_are_reused(make_client):
    app, mw = _app(timeout=5, max_workers=4)
    idents = set()

    def ok():
        idents.add(threading.get_ident())
        return "ok"

    app.route("/", callback=ok)
    c = make_client(app)
    assert c.get("/").text == "ok"
    before = threading.active_count()
    for _ in range(30):
        assert c.get("/").text == "ok"
    assert threading.active_count() <= before + 1
    assert len(idents) <= 2


def test_request_context_reaches_the_pool_thread(make_client):
    app, _ = _app(timeout=5)
    from lcore import request

    app.route("/<name>", callback=lambda name: f"{name}:{request.path}")
    assert make_client(app).get("/x").text == "x:/x"


def test_invalid_arguments():
    with pytest.raises(ValueError):
        TimeoutMiddleware(0)
    with pytest.raises(ValueError):
        TimeoutMiddleware(-1)
    with pytest.raises(ValueError):
        TimeoutMiddleware(1, max_workers=0)


def test_concurrent_requests_share_the_bounded_pool(make_client):
    from concurrent.futures import ThreadPoolExecutor

    app, mw = _app(timeout=3, max_workers=4)
    running = []
    peak = [0]
    lock = threading.Lock()

    @app.route("/work")
    def work():
        with lock:
            running.append(1)
            peak[0] = max(peak[0], len(running))
        time.sleep(0.05)
        with lock:
            running.pop()
        return "done"

    c = make_client(app)
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: c.get("/work").status_code, range(32)))
    assert statuses == [200] * 32
    assert peak[0] <= 4


# -- a def handler reads the body through the timeout's worker thread ------------------
# Regression (issue 12): the middleware ran the handler on a private thread pool, outside
# lcore.concurrency; under ASGI the body reader could not reach the event loop from there
# and every such request was a 500 (NoEventLoopError).


def _body_app(**kw):
    from lcore import request

    app, _ = _app(timeout=5, **kw)

    @app.post("/json")
    def read_json():
        return {"json": request.json}

    @app.post("/body")
    def read_body():
        return {"size": len(request.body.read())}

    @app.post("/forms")
    def read_forms():
        return {"name": request.forms.get("name")}

    @app.post("/files")
    def read_files():
        f = request.files.get("upload")
        return {"file": f.filename, "size": len(f.file.read())}

    return app


def test_def_handler_reads_json_under_timeout(make_client):
    r = make_client(_body_app()).post("/json", json={"a": [1, 2]})
    assert r.status_code == 200, r.text
    assert r.json == {"json": {"a": [1, 2]}}


def test_def_handler_reads_body_under_timeout(make_client):
    r = make_client(_body_app()).post("/body", body=b"x" * 70000)
    assert r.status_code == 200, r.text
    assert r.json == {"size": 70000}


def test_def_handler_reads_forms_under_timeout(make_client):
    c = make_client(_body_app())
    r = c.post("/forms", body="name=n%C3%BC", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200, r.text
    assert r.json == {"name": "nü"}


def test_def_handler_reads_files_under_timeout(make_client):
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="upload"; filename="a.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\n12345\r\n--{boundary}--\r\n"
    )
    c = make_client(_body_app())
    r = c.post("/files", body=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code == 200, r.text
    assert r.json == {"file": "a.txt", "size": 5}


def test_def_handler_reads_a_chunked_body_under_timeout(make_client):
    c = make_client(_body_app())
    r = c.post("/body", body=iter([b"a" * 1000, b"b" * 1000]))
    assert r.status_code == 200, r.text
    assert r.json == {"size": 2000}


def test_body_limit_under_timeout_answers_413_for_an_over_limit_chunked_body(make_client):
    from lcore import BodyLimitMiddleware

    app = _body_app()
    app.use(BodyLimitMiddleware(max_size=100))
    c = make_client(app)
    for path in ("/json", "/body", "/forms"):
        r = c.post(
            path,
            body=iter([b"x" * 80, b"y" * 80]),
            headers={"Content-Type": "application/json"}
            if path == "/json"
            else {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 413, (path, r.status_code, r.text[:300])
    ok = c.post("/body", body=iter([b"x" * 40, b"y" * 40]))
    assert ok.status_code == 200 and ok.json == {"size": 80}
