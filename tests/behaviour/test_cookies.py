"""Cookies: set_cookie defaults and options, delete_cookie, signed cookies round trip."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest

from lcore import Lcore, request, response

SECRET = "s3cret"


def test_set_cookie_defaults(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        response.set_cookie("name", "value")
        return "ok"

    r = make_client(app).get("/")
    assert r.headers["set-cookie"] == "name=value; Path=/; SameSite=Lax; HttpOnly"


def test_set_cookie_options(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        response.set_cookie(
            "a",
            "1",
            max_age=timedelta(hours=1),
            path="/p",
            domain="example.com",
            secure=True,
            httponly=False,
            samesite="strict",
        )
        response.set_cookie("b", "2", samesite="none", expires=0)
        response.set_cookie("c", "x y")
        response.set_cookie("d", "3", samesite=None, httponly=False)
        return "ok"

    cookies = make_client(app).get("/").headers.get_list("set-cookie")
    assert cookies == [
        "a=1; Max-Age=3600; Path=/p; Domain=example.com; SameSite=Strict; Secure",
        "b=2; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; SameSite=None; Secure; HttpOnly",
        'c="x y"; Path=/; SameSite=Lax; HttpOnly',
        "d=3; Path=/",
    ]


def test_set_cookie_replaces_same_name(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        response.set_cookie("a", "1")
        response.set_cookie("a", "2")
        return "ok"

    assert make_client(app).get("/").headers.get_list("set-cookie") == [
        "a=2; Path=/; SameSite=Lax; HttpOnly"
    ]


def test_set_cookie_rejects_bad_values():
    from lcore import BaseResponse

    r = BaseResponse()
    with pytest.raises(ValueError):
        r.set_cookie("a", "x;y")
    with pytest.raises(ValueError):
        r.set_cookie("a", "x\r\nSet-Cookie: evil=1")
    with pytest.raises(ValueError):
        r.set_cookie("bad name", "x")
    with pytest.raises(TypeError):
        r.set_cookie("a", {"not": "str"})
    with pytest.raises(ValueError):
        r.set_cookie("a", "b", samesite="sometimes")


def test_delete_cookie(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        response.delete_cookie("sid", path="/app")
        return "ok"

    assert make_client(app).get("/").headers["set-cookie"] == (
        "sid=; Max-Age=-1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app; SameSite=Lax; HttpOnly"
    )


def test_delete_cookie_exact(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        response.delete_cookie("sid")
        return "ok"

    assert make_client(app).get("/").headers["set-cookie"] == (
        "sid=; Max-Age=-1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; SameSite=Lax; HttpOnly"
    )


def test_cookie_round_trip_with_client_jar(make_client):
    app = Lcore()

    @app.route("/set")
    def set_():
        response.set_cookie("sid", "abc")
        return "ok"

    app.route("/get", callback=lambda: request.get_cookie("sid", "none"))
    c = make_client(app)
    assert c.get("/get").text == "none"
    c.get("/set")
    assert c.get("/get").text == "abc"


def test_signed_cookie_round_trip(make_client):
    app = Lcore()
    value = {"user": "ann", "roles": ["a", "b"], "n": 1}

    @app.route("/set")
    def set_():
        response.set_cookie("session", value, secret=SECRET)
        return "ok"

    @app.route("/get")
    def get():
        return {
            "v": request.get_cookie("session", secret=SECRET),
            "wrong": request.get_cookie("session", secret="other"),
            "raw_is_signed": request.get_cookie("session").startswith("!"),
        }

    c = make_client(app)
    raw = c.get("/set").headers["set-cookie"].split(";")[0].split("=", 1)[1]
    # Wire format: '!' + base64(HMAC-SHA256(secret, msg)) + '?' + msg, msg = base64(JSON).
    sig, msg = raw[1:].split("?", 1)
    assert json.loads(base64.b64decode(msg)) == value
    assert base64.b64decode(sig) == hmac.new(SECRET.encode(), msg.encode(), hashlib.sha256).digest()
    assert c.get("/get").json == {"v": value, "wrong": None, "raw_is_signed": True}


@pytest.mark.parametrize("tamper", ["flip-msg", "truncate", "unsigned", "bad-b64", "empty-sig"])
def test_signed_cookie_tampered_is_none(make_client, tamper):
    from lcore._utils import _cookie_sign

    good = _cookie_sign({"admin": False}, SECRET).decode()
    sig, msg = good[1:].split("?", 1)
    forged_msg = base64.b64encode(json.dumps({"admin": True}).encode()).decode()
    bad = {
        "flip-msg": f"!{sig}?{forged_msg}",
        "truncate": good[:-4],
        "unsigned": "plainvalue",
        "bad-b64": f"!{sig}?%%%",
        "empty-sig": f"!?{msg}",
    }[tamper]
    app = Lcore()
    app.route("/", callback=lambda: {"v": request.get_cookie("s", default="dflt", secret=SECRET)})
    r = make_client(app).get("/", headers={"Cookie": f"s={bad}"})
    assert r.json == {"v": "dflt"}


def test_signed_cookie_sha512(make_client):
    app = Lcore()

    @app.route("/set")
    def set_():
        response.set_cookie("s", [1, 2], secret=SECRET, digestmod=hashlib.sha512)
        return "ok"

    app.route(
        "/get",
        callback=lambda: {
            "512": request.get_cookie("s", secret=SECRET, digestmod=hashlib.sha512),
            "256": request.get_cookie("s", secret=SECRET),
        },
    )
    c = make_client(app)
    c.get("/set")
    assert c.get("/get").json == {"512": [1, 2], "256": None}


def test_deprecated_helpers_same_format():
    import warnings

    from lcore import cookie_decode, cookie_encode, cookie_is_encoded

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        enc = cookie_encode({"a": 1}, SECRET)
        assert cookie_is_encoded(enc)
        assert cookie_decode(enc, SECRET) == {"a": 1}
        assert cookie_decode(enc, "x") is None
    with pytest.warns(DeprecationWarning):
        cookie_encode("x", SECRET)


# -- every attribute is checked at the call (issue 12) ------------------------------------

HOSTILE_COOKIE_ARGS = [
    # Text taken from a request must not split the header or add an attribute.
    ("expires", {"expires": "x\r\nX-Injected: 1"}),
    ("expires", {"expires": "x; Domain=evil.example"}),
    ("expires", {"expires": "Wed, 21 Oct 2015 07:28:00 GMT; Domain=evil.example"}),
    ("expires", {"expires": "Wed, 31 Feb 2015 07:28:00 GMT"}),
    ("expires", {"expires": "tomorrow"}),
    ("expires", {"expires": True}),
    ("expires", {"expires": [2030]}),
    ("max_age", {"max_age": "60; Domain=evil.example"}),
    ("max_age", {"max_age": "60"}),
    ("max_age", {"max_age": 1.5}),
    ("max_age", {"max_age": True}),
    ("samesite", {"samesite": "Lax; Domain=evil.example"}),
    ("samesite", {"samesite": "Lax\r\nX-Injected: 1"}),
    ("samesite", {"samesite": 1}),
    ("path", {"path": "/\x00"}),
    ("path", {"path": "/a\x01b"}),
    ("path", {"path": "/a\x7fb"}),
    ("path", {"path": "/a,b"}),
    ("path", {"path": "/; Domain=evil.example"}),
    ("path", {"path": "/\r\nX-Injected: 1"}),
    ("path", {"path": "/\u20ac"}),
    ("path", {"path": 7}),
    ("domain", {"domain": "example.com\x00"}),
    ("domain", {"domain": "exa\x01mple.com"}),
    ("domain", {"domain": "a.example, b.example"}),
    ("domain", {"domain": "a.example; Secure"}),
    ("domain", {"domain": "a example"}),
    ("secure", {"secure": "false"}),
    ("httponly", {"httponly": "no"}),
    ("partitioned", {"partitioned": 1}),
]


@pytest.mark.parametrize(
    ("attr", "kwargs"),
    HOSTILE_COOKIE_ARGS,
    ids=[f"{a}-{i}" for i, (a, _) in enumerate(HOSTILE_COOKIE_ARGS)],
)
def test_set_cookie_hostile_attribute_is_refused_at_the_call(make_client, attr, kwargs):
    app = Lcore()

    @app.route("/")
    def h():
        try:
            response.set_cookie("sid", "v", **kwargs)
        except ValueError as e:
            return {"refused": str(e)}
        return {"refused": None}

    r = make_client(app).get("/")
    assert r.status_code == 200
    assert r.json["refused"] is not None and attr in r.json["refused"]
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sid", "a\x7fb"),
        ("sid", "a\x01b"),
        ("sid", "a\tb"),
        ("sid", "\u20ac"),
        ("se\x01ss", "v"),
        ("se\x7fss", "v"),
        ("s\u00e9", "v"),
        ("", "v"),
    ],
)
def test_set_cookie_control_characters_in_name_or_value_refused(make_client, name, value):
    app = Lcore()

    @app.route("/")
    def h():
        with pytest.raises(ValueError, match="[Cc]ookie (name|value)"):
            response.set_cookie(name, value)
        return "ok"

    r = make_client(app).get("/")
    assert (r.status_code, r.text) == (200, "ok")
    assert "set-cookie" not in r.headers


def test_delete_cookie_checks_its_attributes(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        with pytest.raises(ValueError, match="path"):
            response.delete_cookie("sid", path="/\r\nX-Injected: 1")
        with pytest.raises(ValueError, match="domain"):
            response.delete_cookie("sid", domain="x.example; Secure")
        response.delete_cookie("sid", domain="x.example", samesite="STRICT")
        return "ok"

    assert make_client(app).get("/").headers.get_list("set-cookie") == [
        "sid=; Max-Age=-1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=x.example; SameSite=Strict; HttpOnly"
    ]


def test_set_cookie_typed_attributes_are_formatted(make_client):
    from datetime import date, datetime, timezone

    app = Lcore()
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

    @app.route("/")
    def h():
        response.set_cookie(
            "a", "1", expires=when, max_age=timedelta(days=1, seconds=1, microseconds=5)
        )
        response.set_cookie("b", "1", expires=date(2030, 1, 2), samesite="STRICT")
        response.set_cookie("c", "1", expires=when.timestamp(), samesite="lAx")
        response.set_cookie("d", "1", expires=int(when.timestamp()), max_age=0, samesite=None)
        # A valid HTTP date is accepted and sent in canonical form (weekday from the date).
        response.set_cookie(
            "e", "1", expires="Mon, 02 Jan 2030 03:04:05 GMT", partitioned=True, secure=True
        )
        response.set_cookie("f", {"signed": True}, secret=SECRET, path="/p", domain="example.com")
        return "ok"

    cookies = make_client(app).get("/").headers.get_list("set-cookie")
    assert cookies[:5] == [
        "a=1; Max-Age=86401; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/; SameSite=Lax; HttpOnly",
        "b=1; Expires=Wed, 02 Jan 2030 00:00:00 GMT; Path=/; SameSite=Strict; HttpOnly",
        "c=1; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/; SameSite=Lax; HttpOnly",
        "d=1; Max-Age=0; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/; HttpOnly",
        "e=1; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/; SameSite=Lax; Secure; HttpOnly; Partitioned",
    ]
    assert cookies[5].startswith("f=!") and cookies[5].endswith(
        "; Path=/p; Domain=example.com; SameSite=Lax; HttpOnly"
    )
