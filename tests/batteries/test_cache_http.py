"""HTTP caching: ConditionalGetMiddleware (ETag, 304, 412, RFC 9110 comparisons) and
cache_control(), under WSGI and ASGI."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lcore import CompressionMiddleware, HTTPResponse, Lcore, response, static_file
from lcore.cache import cache_control
from lcore.middleware.conditional import ConditionalGetMiddleware, etag_matches, parse_etags

LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


def make_app(**options) -> Lcore:
    app = Lcore()
    app.use(ConditionalGetMiddleware(**options))

    @app.get("/page")
    def page():
        response.set_header("Cache-Control", cache_control(max_age=60, public=True))
        response.set_cookie("seen", "1")
        return "<h1>hello</h1>"

    @app.get("/data")
    async def data():
        return {"items": list(range(5))}

    @app.get("/dated")
    def dated():
        return HTTPResponse(
            "dated body", headers={"Last-Modified": LAST_MODIFIED, "Vary": "Cookie"}
        )

    @app.get("/tagged")
    def tagged():
        response.set_header("ETag", '"v42"')
        return "tagged"

    @app.get("/stream")
    def stream():
        yield "a"
        yield "b"

    @app.get("/big")
    def big():
        return "x" * 5000

    @app.get("/missing")
    def missing():
        response.status = 404
        return "nope"

    @app.post("/page")
    def post_page():
        return "posted"

    return app


def test_etag_and_304(make_client):
    c = make_client(make_app())
    r = c.get("/page")
    etag = r.headers["etag"]
    assert r.status_code == 200 and etag.startswith('"') and len(etag) == 34
    assert c.get("/page").headers["etag"] == etag  # same body, same tag
    r = c.get("/page", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.body == b""
    assert r.headers["etag"] == etag and r.headers["cache-control"] == "public, max-age=60"
    assert "content-type" not in r.headers and "content-length" not in r.headers
    assert "seen=1" in r.headers["set-cookie"]
    assert c.head("/page", headers={"If-None-Match": etag}).status_code == 304
    assert c.get("/page", headers={"If-None-Match": '"other"'}).status_code == 200
    assert c.post("/page", headers={"If-None-Match": etag}).status_code == 200  # GET/HEAD only


def test_json_and_async_handlers(make_client):
    c = make_client(make_app())
    r = c.get("/data")
    assert r.json == {"items": [0, 1, 2, 3, 4]}
    assert c.get("/data", headers={"If-None-Match": r.headers["etag"]}).status_code == 304


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("*", 304),
        ('"a", "b", {tag}', 304),
        ("W/{tag}", 304),  # If-None-Match compares weakly
        (" , ,{tag} ,", 304),  # empty list elements are allowed
        ('"a,b", "c"', 200),  # a comma inside a tag is part of the tag
        ("{tag}garbage", 200),  # malformed: ignored
        ('"unterminated', 200),
        ("", 200),
    ],
)
def test_if_none_match_forms(make_client, header, status):
    c = make_client(make_app())
    tag = c.get("/page").headers["etag"]
    r = c.get("/page", headers={"If-None-Match": header.format(tag=tag)})
    assert r.status_code == status


def test_if_match_is_strong(make_client):
    c = make_client(make_app(weak=True))
    tag = c.get("/page").headers["etag"]
    assert tag.startswith('W/"')
    # a weak tag never matches strongly: If-Match fails even with the same tag
    assert c.get("/page", headers={"If-Match": tag}).status_code == 412
    assert c.get("/page", headers={"If-Match": "*"}).status_code == 200
    c2 = make_client(make_app())
    strong = c2.get("/page").headers["etag"]
    assert c2.get("/page", headers={"If-Match": strong}).status_code == 200
    assert c2.get("/page", headers={"If-Match": '"nope"'}).status_code == 412
    # with a weak-tagged response, If-None-Match still matches (weak comparison)
    assert c.get("/page", headers={"If-None-Match": tag[2:]}).status_code == 304


def test_dates(make_client):
    c = make_client(make_app())
    r = c.get("/dated")
    assert r.headers["last-modified"] == LAST_MODIFIED
    later, earlier = "Thu, 22 Oct 2015 07:28:00 GMT", "Tue, 20 Oct 2015 07:28:00 GMT"
    r = c.get("/dated", headers={"If-Modified-Since": LAST_MODIFIED})
    assert r.status_code == 304 and r.headers["vary"] == "Cookie"
    assert c.get("/dated", headers={"If-Modified-Since": later}).status_code == 304
    assert c.get("/dated", headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match present: the date is not looked at
    r = c.get("/dated", headers={"If-None-Match": '"x"', "If-Modified-Since": later})
    assert r.status_code == 200
    assert c.get("/dated", headers={"If-Unmodified-Since": earlier}).status_code == 412
    assert c.get("/dated", headers={"If-Unmodified-Since": later}).status_code == 200
    assert c.get("/dated", headers={"If-Modified-Since": "not a date"}).status_code == 200


def test_existing_etag_is_kept(make_client):
    c = make_client(make_app())
    assert c.get("/tagged").headers["etag"] == '"v42"'
    assert c.get("/tagged", headers={"If-None-Match": 'W/"v42"'}).status_code == 304


def test_static_files_keep_their_own_tag(make_client, tmp_path):
    (tmp_path / "f.txt").write_text("static")
    app = make_app()
    app.get("/f", callback=lambda: static_file("f.txt", root=str(tmp_path)))
    c = make_client(app)
    r = c.get("/f")
    assert len(r.headers["etag"]) == 66  # static_file's SHA-256 tag, untouched
    assert c.get("/f", headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_left_alone(make_client):
    c = make_client(make_app(max_size=1000))
    r = c.get("/stream")
    assert r.text == "ab" and "etag" not in r.headers  # streams are not hashed
    r = c.get("/big")
    assert len(r.text) == 5000 and "etag" not in r.headers  # over max_size
    r = c.get("/missing", headers={"If-None-Match": "*"})
    assert r.status_code == 404 and "etag" not in r.headers  # only 200s


def test_with_compression_the_tag_is_of_the_bytes_sent(make_client):
    app = make_app()
    app.use(CompressionMiddleware(min_size=10, brotli=False))
    c = make_client(app)
    zipped = c.get("/page", headers={"Accept-Encoding": "gzip"})
    plain = c.get("/page", headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.body == plain.body  # (the client decoded it)
    assert zipped.headers["etag"] != plain.headers["etag"]
    r = c.get("/page", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]})
    assert r.status_code == 304 and r.headers["vary"] == "Accept-Encoding"


def test_parse_and_compare():
    assert parse_etags('"a", W/"b"') == [(False, '"a"'), (True, '"b"')]
    assert parse_etags("*") == "*"
    assert parse_etags("a") is None and parse_etags('"a" "b"') is None
    assert etag_matches('W/"a"', '"a"', weak=True) is True
    assert etag_matches('W/"a"', '"a"', weak=False) is False
    assert etag_matches('"a"', 'W/"a"', weak=False) is False
    assert etag_matches('"a"', '"a"', weak=False) is True
    assert etag_matches("bad", '"a"', weak=True) is None


def test_cache_control():
    assert cache_control(max_age=60, public=True) == "public, max-age=60"
    assert cache_control(no_cache=True, private=True) == "private, no-cache"
    assert cache_control(no_store=True) == "no-store"
    assert (
        cache_control(
            max_age=timedelta(days=365), immutable=True, s_maxage=10, stale_while_revalidate=30
        )
        == "max-age=31536000, s-maxage=10, stale-while-revalidate=30, immutable"
    )
    assert cache_control(must_revalidate=True, max_age=0) == "must-revalidate, max-age=0"
    for bad in (
        dict(public=True, private=True),
        dict(no_store=True, max_age=10),
        dict(max_age=-1),
        dict(max_age="10"),
        dict(),
    ):
        with pytest.raises(ValueError):
            cache_control(**bad)
