"""CORSMiddleware: preflight 204 before routing, headers only for allowed origins."""

from __future__ import annotations

import pytest

from lcore import CORSMiddleware, Lcore, response

ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Headers": "Content-Type, X-Custom",
}


def _app(**kw):
    app = Lcore()
    app.use(CORSMiddleware(**kw))

    @app.route("/data", method=["GET", "PUT"])
    def data():
        return {"ok": True}

    @app.route("/vary")
    def vary():
        response.set_header("Vary", "Cookie")
        return "v"

    return app


def _cors_headers(r):
    return {k.lower(): v for k, v in r.headers.items() if k.lower().startswith("access-control-")}


def test_preflight_with_credentials(make_client):
    c = make_client(
        _app(
            allow_origins=[ORIGIN],
            allow_credentials=True,
            max_age=600,
            allow_methods=["GET", "PUT"],
            allow_headers=["Content-Type", "X-Custom"],
        )
    )
    r = c.options("/data", headers=PREFLIGHT)
    assert r.status_code == 204
    assert r.body == b""
    assert _cors_headers(r) == {
        "access-control-allow-origin": ORIGIN,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, PUT",
        "access-control-allow-headers": "Content-Type, X-Custom",
        "access-control-max-age": "600",
    }
    assert r.headers["Vary"] == "Origin"


def test_preflight_is_answered_before_routing(make_client):
    c = make_client(_app())
    r = c.options("/no/such/route", headers=PREFLIGHT)
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Max-Age"] == "86400"
    assert "Vary" not in r.headers  # '*' does not depend on the Origin


@pytest.mark.parametrize("path", ["/data", "/no/such/route"])
def test_options_with_origin_alone_is_a_preflight(make_client, path):
    """As in Lcore 0.0.4: no Access-Control-Request-Method needed, route or no route."""
    c = make_client(_app(allow_origins=[ORIGIN], allow_methods=["GET", "PUT"]))
    r = c.options(path, headers={"Origin": ORIGIN})
    assert r.status_code == 204
    assert r.body == b""
    assert _cors_headers(r) == {
        "access-control-allow-origin": ORIGIN,
        "access-control-allow-methods": "GET, PUT",
        "access-control-allow-headers": (
            "Accept, Accept-Language, Content-Language, Content-Type, Authorization, "
            "X-Requested-With, X-CSRF-Token, X-Request-ID"
        ),
        "access-control-max-age": "86400",
    }
    assert r.headers["Vary"] == "Origin"
    # Without an Origin, OPTIONS is routed as before (405 with Allow here, 404 unrouted).
    plain = c.options(path)
    assert plain.status_code in (404, 405) and _cors_headers(plain) == {}


def test_wildcard_simple_request(make_client):
    c = make_client(_app(expose_headers=["X-Total"]))
    r = c.get("/data", headers={"Origin": ORIGIN})
    assert r.status_code == 200
    assert _cors_headers(r) == {
        "access-control-allow-origin": "*",
        "access-control-expose-headers": "X-Total",
    }


def test_credentials_echo_the_origin_and_vary(make_client):
    c = make_client(
        _app(allow_origins=[ORIGIN, "https://other.example.com"], allow_credentials=True)
    )
    r = c.get("/data", headers={"Origin": ORIGIN})
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Vary"] == "Origin"


def test_vary_is_merged_with_the_handlers(make_client):
    c = make_client(_app(allow_origins=[ORIGIN]))
    r = c.get("/vary", headers={"Origin": ORIGIN})
    assert r.headers["Vary"] == "Cookie, Origin"


@pytest.mark.parametrize("headers", [{}, {"Origin": "https://evil.example.com"}])
def test_no_cors_headers_for_missing_or_disallowed_origin(make_client, headers):
    c = make_client(_app(allow_origins=[ORIGIN], allow_credentials=True))
    r = c.get("/data", headers=headers)
    assert r.status_code == 200
    assert _cors_headers(r) == {}
    r = c.options(
        "/data",
        headers={**PREFLIGHT, **headers} if headers else {"Access-Control-Request-Method": "PUT"},
    )
    assert r.status_code != 204 or not _cors_headers(r)
    assert _cors_headers(r) == {}


def test_allow_headers_star_echoes_the_request(make_client):
    c = make_client(_app(allow_headers="*"))
    r = c.options("/data", headers=PREFLIGHT)
    assert r.headers["Access-Control-Allow-Headers"] == "Content-Type, X-Custom"


def test_errors_from_handlers_carry_cors_headers(make_client):
    c = make_client(_app(allow_origins=ORIGIN))
    r = c.get("/missing", headers={"Origin": ORIGIN})
    assert r.status_code == 404
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_comma_separated_origins_and_trailing_slash(make_client):
    c = make_client(_app(allow_origins=f"{ORIGIN}/, https://b.example.com"))
    assert (
        c.get("/data", headers={"Origin": "https://b.example.com"}).headers[
            "Access-Control-Allow-Origin"
        ]
        == "https://b.example.com"
    )
    assert (
        c.get("/data", headers={"Origin": ORIGIN}).headers["Access-Control-Allow-Origin"] == ORIGIN
    )


def test_credentials_with_wildcard_is_refused():
    with pytest.raises(ValueError, match="allow_credentials"):
        CORSMiddleware(allow_origins="*", allow_credentials=True)
    with pytest.raises(ValueError):
        CORSMiddleware(allow_origins=[ORIGIN, "*"], allow_credentials=True)
