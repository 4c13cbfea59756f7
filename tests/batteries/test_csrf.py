"""CSRFMiddleware: signed double-submit cookie, exact wire format, forms off the loop."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading

import pytest

from lcore import CSRFMiddleware, Lcore, ctx, request

SECRET = "csrf-secret"
COOKIE_RE = re.compile(r"^([0-9a-f]{64})\.([0-9a-f]{64})$")


def _app(**kw):
    app = Lcore()
    kw.setdefault("secret", SECRET)
    app.use(CSRFMiddleware(**kw))
    seen: dict = {}

    @app.route("/form")
    def form():
        return ctx.csrf_token

    @app.post("/submit")
    def submit():
        return "ok:" + request.forms.get("name", "")

    @app.post("/asubmit")
    async def asubmit():
        seen["loop_thread"] = threading.get_ident()
        return "ok:" + request.forms.get("name", "")

    @app.post("/api")
    def api():
        return {"got": request.json}

    return app, seen


def _token(c) -> str:
    r = c.get("/form")
    value = c.cookies.get("_csrf_token")
    m = COOKIE_RE.match(value)
    assert m, value
    assert r.text == m.group(1)
    return m.group(1)


def test_cookie_wire_format(make_client):
    app, _ = _app()
    c = make_client(app)
    r = c.get("/form")
    set_cookie = r.headers["Set-Cookie"]
    name, _, rest = set_cookie.partition("=")
    value = rest.split(";")[0]
    assert name == "_csrf_token"
    token, sig = COOKIE_RE.match(value).groups()
    assert sig == hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
    attrs = [a.strip().lower() for a in set_cookie.split(";")[1:]]
    assert "samesite=strict" in attrs
    assert "path=/" in attrs
    assert "httponly" not in attrs  # readable by JS
    assert "secure" not in attrs
    assert r.text == token  # ctx.csrf_token


def test_secure_flag(make_client):
    app, _ = _app(secure=True)
    r = make_client(app).get("/form")
    assert "secure" in [a.strip().lower() for a in r.headers["Set-Cookie"].split(";")]


def test_valid_cookie_is_not_reissued(make_client):
    app, _ = _app()
    c = make_client(app)
    token = _token(c)
    r = c.get("/form")
    assert "Set-Cookie" not in r.headers
    assert r.text == token


def test_forged_cookie_gets_a_fresh_one_on_safe_requests(make_client):
    app, _ = _app()
    c = make_client(app)
    forged = "a" * 64 + "." + "b" * 64
    r = c.get("/form", headers={"Cookie": f"_csrf_token={forged}"})
    assert "Set-Cookie" in r.headers
    assert r.headers["Set-Cookie"].split(";")[0] != f"_csrf_token={forged}"


@pytest.mark.parametrize("path", ["/submit", "/asubmit"])
def test_header_token(make_client, path):
    app, _ = _app()
    c = make_client(app)
    token = _token(c)
    form = {"content_type": "application/x-www-form-urlencoded", "body": "name=bob"}
    assert c.post(path, headers={"X-CSRF-Token": token}, **form).text == "ok:bob"
    assert c.post(path, headers={"X-CSRF-Token": "0" * 64}, **form).status_code == 403
    assert c.post(path, **{**form, "body": "name=bob"}).status_code == 403  # no token at all


@pytest.mark.parametrize("path", ["/submit", "/asubmit"])
def test_form_field_token(make_client, path):
    app, _ = _app()
    c = make_client(app)
    token = _token(c)
    r = c.post(
        path, body=f"_csrf_token={token}&name=ann", content_type="application/x-www-form-urlencoded"
    )
    assert r.status_code == 200 and r.text == "ok:ann"
    r = c.post(
        path, body="_csrf_token=nope&name=ann", content_type="application/x-www-form-urlencoded"
    )
    assert r.status_code == 403


@pytest.mark.parametrize("path", ["/submit", "/asubmit"])
def test_multipart_form_field(make_client, path):
    app, _ = _app()
    c = make_client(app)
    token = _token(c)
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="_csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\ncy\r\n--{boundary}--\r\n'
    )
    r = c.post(path, body=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code == 200 and r.text == "ok:cy"


def test_unsafe_request_without_cookie_is_refused(make_client):
    app, _ = _app()
    c = make_client(app)
    r = c.post("/api", json={"a": 1}, headers={"X-CSRF-Token": "a" * 64})
    assert r.status_code == 403


def test_tampered_signature_is_refused(make_client):
    app, _ = _app()
    c = make_client(app)
    token = _token(c)
    c.cookies.clear()
    bad = f"{token}.{'0' * 64}"
    r = c.post("/api", json={}, headers={"X-CSRF-Token": token, "Cookie": f"_csrf_token={bad}"})
    assert r.status_code == 403


def test_cookie_from_another_secret_is_refused(make_client):
    app1, _ = _app(secret="one")
    app2, _ = _app(secret="two")
    c1 = make_client(app1)
    token = _token(c1)
    cookie = c1.cookies.get("_csrf_token")
    c2 = make_client(app2)
    r = c2.post("/api", json={}, headers={"X-CSRF-Token": token, "Cookie": f"_csrf_token={cookie}"})
    assert r.status_code == 403


def test_json_api_with_header(make_client):
    app, _ = _app()
    c = make_client(app)
    token = _token(c)
    r = c.post("/api", json={"a": 1}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json == {"got": {"a": 1}}


def test_custom_names_and_safe_methods(make_client):
    app = Lcore()
    app.use(
        CSRFMiddleware(
            secret="s",
            cookie_name="xsrf",
            header_name="X-XSRF",
            form_field="t",
            safe_methods=("GET", "HEAD", "OPTIONS", "TRACE"),
        )
    )
    app.route("/", method=["GET", "POST"], callback=lambda: "ok")
    c = make_client(app)
    c.get("/")
    token = c.cookies.get("xsrf").split(".")[0]
    assert c.post("/", headers={"X-XSRF": token}).text == "ok"
    assert (
        c.post("/", body=f"t={token}", content_type="application/x-www-form-urlencoded").text
        == "ok"
    )
    assert c.post("/", headers={"X-CSRF-Token": token}).status_code == 403


def test_async_form_is_read_off_the_event_loop(make_client, proto, monkeypatch):
    app, seen = _app()
    threads = []
    original = CSRFMiddleware._form_value

    def spy(self, req):
        threads.append(threading.get_ident())
        return original(self, req)

    monkeypatch.setattr(CSRFMiddleware, "_form_value", spy)
    c = make_client(app)
    token = _token(c)
    r = c.post(
        "/asubmit",
        body=f"_csrf_token={token}&name=z",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.text == "ok:z"
    assert len(threads) == 1
    if proto == "asgi":  # the handler runs on the loop; the form was read in a worker thread
        assert threads[0] != seen["loop_thread"]


def test_missing_secret_warns(caplog):
    caplog.set_level(logging.WARNING, logger="lcore.security")
    CSRFMiddleware()
    assert any("secret" in r.getMessage() for r in caplog.records)
