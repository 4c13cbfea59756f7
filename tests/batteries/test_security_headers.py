"""SecurityHeadersMiddleware: defaults, HSTS, overrides; Title-Case names on WSGI."""

from __future__ import annotations

from lcore import HTTPResponse, Lcore, SecurityHeadersMiddleware, abort, response

DEFAULTS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "x-xss-protection": "1; mode=block",
    "referrer-policy": "strict-origin-when-cross-origin",
    "content-security-policy": "default-src 'self'",
}


def _app(**kw):
    app = Lcore()
    app.use(SecurityHeadersMiddleware(**kw))
    app.route("/", callback=lambda: "ok")

    @app.route("/own")
    def own():
        response.set_header("X-Frame-Options", "DENY")
        return "own"

    @app.route("/raised")
    def raised():
        abort(403, "no")

    @app.route("/returned")
    def returned():
        return HTTPResponse("r", status=201, headers={"Content-Security-Policy": "default-src *"})

    @app.route("/async")
    async def asy():
        return "a"

    return app


def _sec(r):
    names = set(DEFAULTS) | {"strict-transport-security", "permissions-policy"}
    return {k.lower(): v for k, v in r.headers.items() if k.lower() in names}


def test_defaults(make_client):
    c = make_client(_app())
    for path in ("/", "/async"):
        assert _sec(c.get(path)) == DEFAULTS


def test_hsts(make_client):
    r = make_client(_app(hsts=True)).get("/")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    r = make_client(_app(hsts=True, hsts_max_age=600)).get("/")
    assert r.headers["Strict-Transport-Security"] == "max-age=600; includeSubDomains"


def test_overrides_by_keyword(make_client):
    c = make_client(
        _app(
            x_frame_options="DENY",
            content_security_policy="default-src 'none'",
            x_xss_protection=None,
            permissions_policy="geolocation=()",
        )
    )
    h = _sec(c.get("/"))
    assert h["x-frame-options"] == "DENY"
    assert h["content-security-policy"] == "default-src 'none'"
    assert "x-xss-protection" not in h
    assert h["permissions-policy"] == "geolocation=()"


def test_csp_shorthand():
    mw = SecurityHeadersMiddleware(csp="default-src 'self' cdn.example.com")
    assert ("Content-Security-Policy", "default-src 'self' cdn.example.com") in mw.headers


def test_handler_values_win(make_client):
    c = make_client(_app())
    assert c.get("/own").headers["X-Frame-Options"] == "DENY"
    r = c.get("/returned")
    assert r.status_code == 201
    assert r.headers["Content-Security-Policy"] == "default-src *"
    assert r.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_error_responses_get_them(make_client):
    r = make_client(_app()).get("/raised")
    assert r.status_code == 403
    assert _sec(r) == DEFAULTS


def test_header_name_case_on_the_wire(make_client, proto):
    r = make_client(_app()).get("/")
    raw_names = {k for k, _ in r._r.headers.raw}
    if proto == "wsgi":
        assert b"X-Xss-Protection" in raw_names  # as Lcore and Bottle always sent it
        assert b"X-Content-Type-Options" in raw_names
    else:
        assert b"x-xss-protection" in raw_names  # ASGI requires lowercase
