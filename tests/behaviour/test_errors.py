"""Error handlers, error formats, catchall, debug pages, TestClient reporting 500s."""

from __future__ import annotations

import pytest

from lcore import HTTPError, Lcore, abort, request, response


def test_error_handler_sync(make_client):
    app = Lcore()

    @app.error(404)
    def not_found(err):
        response.set_header("X-Handler", "sync")
        return f"custom 404 for {request.path}: {err.status_code}"

    r = make_client(app).get("/missing")
    assert r.status_code == 404
    assert r.text == "custom 404 for /missing: 404"
    assert r.headers["x-handler"] == "sync"


def test_error_handler_async(make_client):
    app = Lcore()

    @app.error(500)
    async def oops(err):
        return {"oops": type(err.exception).__name__}

    @app.route("/")
    def boom():
        raise KeyError("x")

    r = make_client(app).get("/")
    assert r.status_code == 500
    assert r.json == {"oops": "KeyError"}
    assert r.headers["content-type"] == "application/json"


def test_error_handler_for_abort_and_direct_registration(make_client):
    app = Lcore()
    app.error(403, lambda err: "denied: " + err.body)
    app.route("/", callback=lambda: abort(403, "secret"))
    r = make_client(app).get("/")
    assert (r.status_code, r.text) == (403, "denied: secret")


def test_error_handler_for_405(make_client):
    app = Lcore()
    app.post("/x", callback=lambda: "x")
    app.error(405, lambda err: "wrong method")
    r = make_client(app).get("/x")
    assert (r.status_code, r.text) == (405, "wrong method")
    assert r.headers["allow"] == "POST"


def test_error_handler_returning_httpresponse(make_client):
    from lcore import HTTPResponse

    app = Lcore()
    app.error(404, lambda err: HTTPResponse("moved", status=410, X_Gone="1"))
    r = make_client(app).get("/x")
    assert (r.status_code, r.text, r.headers["x-gone"]) == (410, "moved", "1")


def test_error_handler_failing_falls_back_to_default(make_client):
    app = Lcore()

    @app.error(404)
    def bad(err):
        raise RuntimeError("handler broke")

    r = make_client(app).get("/x")
    assert r.status_code == 404
    assert "Error: 404 Not Found" in r.text


def test_json_error_format(make_client):
    app = Lcore()
    app.config["error.format"] = "json"
    app.route("/boom", callback=lambda: 1 / 0)
    app.post("/only-post", callback=lambda: "")
    c = make_client(app)
    r = c.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert r.json == {"error": "Internal Server Error", "status": 500}
    r = c.get("/only-post")
    assert r.json == {"error": "Method Not Allowed", "status": 405}
    assert r.headers["allow"] == "POST"


def test_json_error_format_debug_adds_exception(make_client):
    app = Lcore(debug=True)
    app.config["error.format"] = "json"
    app.route("/boom", callback=lambda: 1 / 0)
    doc = make_client(app).get("/boom").json
    assert doc["error"] == "Internal Server Error" and doc["status"] == 500
    assert doc["exception"] == "ZeroDivisionError('division by zero')"
    assert "Traceback" in doc["traceback"]


def test_debug_page_shows_traceback_only_in_debug(make_client):
    app = Lcore()

    @app.route("/boom")
    def boom():
        raise ValueError("secret detail <b>")

    c = make_client(app)
    r = c.get("/boom")
    assert r.status_code == 500
    assert "Error: 500 Internal Server Error" in r.text
    assert "Traceback" not in r.text
    assert "secret detail" not in r.text
    app.config["debug"] = True
    r = c.get("/boom")
    assert r.status_code == 500
    assert "Traceback" in r.text
    assert "ValueError" in r.text
    assert "secret detail &lt;b&gt;" in r.text
    assert "<b>" not in r.text.split("<h2>Exception:</h2>")[1]


def test_error_page_escapes_message(make_client):
    app = Lcore()
    app.route("/", callback=lambda: abort(400, "<script>x</script>"))
    r = make_client(app).get("/")
    assert r.status_code == 400
    assert "<script>" not in r.text
    assert "&lt;script&gt;x&lt;/script&gt;" in r.text


def test_catchall_off_raises(proto):
    """With catchall off the exception leaves the app (the server decides what to do)."""
    import io

    app = Lcore(catchall=False)

    @app.route("/")
    def boom():
        raise LookupError("out")

    assert app.catchall is False
    if proto == "wsgi":
        env = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/",
            "SERVER_NAME": "x",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
        }
        with pytest.raises(LookupError):
            app(env, lambda *a: None)
    else:
        import anyio

        async def main():
            scope = {
                "type": "http",
                "method": "GET",
                "path": "/",
                "headers": [],
                "query_string": b"",
                "http_version": "1.1",
                "scheme": "http",
                "root_path": "",
            }

            async def receive():
                return {"type": "http.request", "body": b""}

            async def send(msg):
                pass

            await app(scope, receive, send)

        with pytest.raises(LookupError):
            anyio.run(main)


def test_catchall_off_http_errors_still_rendered(make_client):
    app = Lcore(catchall=False)
    app.route("/", callback=lambda: abort(404, "gone"))
    r = make_client(app).get("/")
    assert r.status_code == 404


def test_test_client_reports_handler_exception_as_500(make_client):
    app = Lcore(catchall=False)

    @app.route("/")
    def boom():
        raise RuntimeError("kaboom")

    r = make_client(app).get("/")
    assert r.status_code == 500
    assert "kaboom" in r.text


def test_test_client_500_with_catchall(make_client):
    app = Lcore()
    app.route("/", callback=lambda: {}["x"])
    r = make_client(app).get("/")
    assert r.status_code == 500
    assert "Internal Server Error" in r.text


def test_http_error_headers_set_before_raise_kept(make_client):
    app = Lcore()

    @app.error(418)
    def tea(err):
        return "short and stout"

    @app.route("/")
    def h():
        response.set_header("X-Set-Before", "1")
        response.set_cookie("c", "v")
        raise HTTPError(418)

    r = make_client(app).get("/")
    assert (r.status_code, r.text) == (418, "short and stout")
    assert r.headers["x-set-before"] == "1"
    assert r.headers.get_list("set-cookie") == ["c=v; Path=/; SameSite=Lax; HttpOnly"]


def test_exception_after_headers_set_drops_them(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        response.set_header("X-Partial", "1")
        raise RuntimeError("x")

    r = make_client(app).get("/")
    assert r.status_code == 500
    assert "x-partial" not in r.headers


def test_async_handler_errors(make_client):
    app = Lcore()

    @app.route("/a")
    async def a():
        abort(402, "pay")

    @app.route("/b")
    async def b():
        raise RuntimeError("x")

    c = make_client(app)
    assert c.get("/a").status_code == 402
    assert c.get("/b").status_code == 500


def test_error_logged(make_client, caplog):
    app = Lcore()
    app.route("/", callback=lambda: 1 / 0)
    with caplog.at_level("ERROR", logger="lcore.error"):
        make_client(app).get("/")
    assert any("ZeroDivisionError" in rec.getMessage() for rec in caplog.records)


def test_error_page_content_type_replaces_handler_choice(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        response.content_type = "application/json"
        abort(404, "no such user")

    @app.route("/explicit")
    def explicit():
        raise HTTPError(400, "plain words", content_type="text/plain; charset=UTF-8")

    c = make_client(app)
    r = c.get("/")
    assert r.status_code == 404
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    assert "no such user" in r.text
    assert c.get("/explicit").headers["content-type"] == "text/plain; charset=UTF-8"
    app.config["error.format"] = "json"
    r = c.get("/")
    assert r.headers["content-type"] == "application/json"
    assert r.json == {"error": "no such user", "status": 404}
