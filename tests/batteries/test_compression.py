"""CompressionMiddleware: gzip/br, streamed bodies chunk by chunk, what is left alone."""

from __future__ import annotations

import asyncio
import gzip
import threading
import zlib

import pytest

from lcore import CompressionMiddleware, HTTPResponse, Lcore, response, static_file

TEXT = "hello compression " * 100  # 1800 bytes


def _app(**kw):
    app = Lcore()
    app.use(CompressionMiddleware(**kw))
    app.route("/text", callback=lambda: TEXT)
    app.route("/small", callback=lambda: "tiny")
    app.route("/json", callback=lambda: {"items": list(range(300))})

    @app.route("/png")
    def png():
        response.content_type = "image/png"
        return b"\x89PNG" + b"\0" * 2000

    @app.route("/sse")
    def sse():
        response.content_type = "text/event-stream"
        return "data: x\n\n" * 200

    @app.route("/encoded")
    def encoded():
        response.set_header("Content-Encoding", "gzip")
        return gzip.compress(TEXT.encode())

    @app.route("/no-transform")
    def no_transform():
        response.set_header("Cache-Control", "no-transform")
        return TEXT

    @app.route("/declared")
    def declared():
        response.set_header("Content-Length", str(len(TEXT)))
        return TEXT

    @app.route("/returned")
    def returned():
        return HTTPResponse(TEXT, status=201, headers={"X-Extra": "1"})

    @app.route("/async")
    async def asy():
        await asyncio.sleep(0)
        return TEXT

    @app.route("/empty204")
    def empty():
        response.status = 204
        return ""

    return app


def _gunzip(data: bytes) -> bytes:
    return zlib.decompress(data, 31)


def test_gzip_body_and_headers(make_client):
    c = make_client(_app())
    for path in ("/text", "/async", "/returned"):
        with c.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as r:
            raw = b"".join(r.iter_raw())
            assert r.headers["Content-Encoding"] == "gzip"
            assert r.headers["Vary"] == "Accept-Encoding"
            assert int(r.headers["Content-Length"]) == len(raw) < len(TEXT)
            assert _gunzip(raw).decode() == TEXT
    with c.stream("GET", "/returned", headers={"Accept-Encoding": "gzip"}) as r:
        assert r.status_code == 201 and r.headers["X-Extra"] == "1"


def test_declared_content_length_is_fixed(make_client):
    c = make_client(_app())
    with c.stream("GET", "/declared", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
        assert int(r.headers["Content-Length"]) == len(raw)
        assert _gunzip(raw).decode() == TEXT


def test_json_is_compressed(make_client):
    c = make_client(_app())
    r = c.get("/json", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Content-Type"] == "application/json"
    assert r.json == {"items": list(range(300))}  # httpx decodes gzip


@pytest.mark.parametrize("path", ["/small", "/png", "/sse", "/no-transform"])
def test_left_alone(make_client, path):
    c = make_client(_app())
    r = c.get(path, headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in r.headers


def test_already_encoded_is_not_compressed_twice(make_client):
    c = make_client(_app())
    with c.stream("GET", "/encoded", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
    assert _gunzip(raw).decode() == TEXT


@pytest.mark.parametrize("ae", ["", "identity", "gzip;q=0", "deflate", "br;q=0, gzip;q=0"])
def test_not_accepted(make_client, ae):
    c = make_client(_app())
    r = c.get("/text", headers={"Accept-Encoding": ae})
    assert "Content-Encoding" not in r.headers
    assert r.text == TEXT
    assert r.headers["Vary"] == "Accept-Encoding"  # the response depends on it


def test_star_accepts_gzip(make_client, monkeypatch):
    from lcore.middleware import compression

    monkeypatch.setattr(compression, "_brotli", None)
    r = make_client(_app()).get("/text", headers={"Accept-Encoding": "*"})
    assert r.headers["Content-Encoding"] == "gzip"


def test_bodyless_status_untouched(make_client):
    r = make_client(_app()).get("/empty204", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 204 and "Content-Encoding" not in r.headers


def test_brotli_when_installed(make_client):
    brotli = pytest.importorskip("brotli")
    c = make_client(_app())
    with c.stream("GET", "/text", headers={"Accept-Encoding": "gzip, br"}) as r:
        raw = b"".join(r.iter_raw())
        assert r.headers["Content-Encoding"] == "br"
    assert brotli.decompress(raw).decode() == TEXT
    # gzip preferred by q-value
    r = c.get("/text", headers={"Accept-Encoding": "br;q=0.5, gzip"})
    assert r.headers["Content-Encoding"] == "gzip"


def test_without_brotli_gzip_is_used(make_client, monkeypatch):
    from lcore.middleware import compression

    monkeypatch.setattr(compression, "_brotli", None)
    r = make_client(_app()).get("/text", headers={"Accept-Encoding": "br, gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    r = make_client(_app()).get("/text", headers={"Accept-Encoding": "br"})
    assert "Content-Encoding" not in r.headers


def test_custom_content_types_and_min_size(make_client):
    app = _app(content_types=["image/", "text/plain"], min_size=10)
    c = make_client(app)
    assert c.get("/png", headers={"Accept-Encoding": "gzip"}).headers["Content-Encoding"] == "gzip"
    assert (
        "Content-Encoding" not in c.get("/text", headers={"Accept-Encoding": "gzip"}).headers
    )  # text/html
    assert "Content-Encoding" not in c.get("/sse", headers={"Accept-Encoding": "gzip"}).headers


def _stream_app(kind: str):
    app = Lcore()
    app.use(CompressionMiddleware())
    gate = threading.Event()

    if kind == "sync":

        @app.route("/gen")
        def gen():
            yield "first part " * 10
            gate.wait(5)
            yield "second part " * 10

    else:

        @app.route("/gen")
        async def gen():
            async def body():
                yield "first part " * 10
                for _ in range(500):
                    if gate.is_set():
                        break
                    await asyncio.sleep(0.01)
                yield "second part " * 10

            return body()

    return app, gate


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_generator_is_compressed_chunk_by_chunk(make_client, kind):
    app, gate = _stream_app(kind)
    c = make_client(app)
    d = zlib.decompressobj(31)
    with c.stream("GET", "/gen", headers={"Accept-Encoding": "gzip"}) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        assert "Content-Length" not in r.headers
        assert r.headers["Vary"] == "Accept-Encoding"
        chunks = r.iter_raw()
        first = d.decompress(next(chunks)).decode()
        # The first chunk is usable before the handler produced the second one.
        assert first == "first part " * 10
        assert not gate.is_set()
        gate.set()
        rest = b"".join(chunks)
    assert (
        first + d.decompress(rest).decode() + d.flush().decode()
    ) == "first part " * 10 + "second part " * 10
    assert d.eof


def test_file_body_and_weak_etag(make_client, tmp_path):
    (tmp_path / "page.html").write_text(TEXT)
    app = Lcore()
    app.use(CompressionMiddleware())
    app.route("/f/<name>", callback=lambda name: static_file(name, root=str(tmp_path)))
    app.route("/open", callback=lambda: open(tmp_path / "page.html", "rb"))
    c = make_client(app)
    with c.stream("GET", "/f/page.html", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
        assert r.headers["Content-Encoding"] == "gzip"
        etag = r.headers["ETag"]
        assert etag.startswith('W/"')
        assert "Accept-Ranges" not in r.headers
    assert _gunzip(raw).decode() == TEXT
    # The weak validator still revalidates.
    r = c.get("/f/page.html", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert r.status_code == 304
    # A range is served as it is, uncompressed.
    r = c.get("/f/page.html", headers={"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
    assert (
        r.status_code == 206
        and "Content-Encoding" not in r.headers
        and r.body == TEXT[:10].encode()
    )
    r = c.get("/open", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.text == TEXT


def test_head_request(make_client):
    c = make_client(_app())
    r = c.head("/text", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.body == b""
    assert r.headers["Content-Encoding"] == "gzip"


def test_invalid_level():
    with pytest.raises(ValueError):
        CompressionMiddleware(level=0)
    with pytest.raises(ValueError):
        CompressionMiddleware(level=10)
