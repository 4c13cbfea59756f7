"""static_file served through a route, under both protocols."""

from __future__ import annotations

import hashlib
import os

import pytest

from lcore import Lcore, static_file


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "public"
    root.mkdir()
    (root / "hello.txt").write_text("hello world")
    (root / "data.bin").write_bytes(bytes(range(256)) * 1000)
    (root / "sub").mkdir()
    (root / "sub" / "page.html").write_text("<p>hi</p>")
    (tmp_path / "secret.txt").write_text("top secret")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    app = Lcore()

    @app.route("/static/<path:path>")
    def serve(path):
        return static_file(path, root=str(root))

    @app.route("/download/<path:path>")
    def download(path):
        return static_file(path, root=str(root), download="my report\r\n.txt")

    @app.route("/plain/<path:path>")
    def plain(path):
        return static_file(
            path,
            root=str(root),
            mimetype="text/x-custom",
            charset=None,
            headers={"Cache-Control": "max-age=60"},
        )

    return app


def test_serves_file(make_client, site):
    r = make_client(site).get("/static/hello.txt")
    assert r.status_code == 200
    assert r.text == "hello world"
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"
    assert r.headers["content-length"] == "11"
    assert len(r.headers["etag"].strip('"')) == 64
    assert all(ch in "0123456789abcdef" for ch in r.headers["etag"].strip('"'))
    assert "last-modified" in r.headers
    assert r.headers["accept-ranges"] == "bytes"


def test_large_binary_file(make_client, site):
    r = make_client(site).get("/static/data.bin")
    assert r.body == bytes(range(256)) * 1000
    assert r.headers["content-type"] == "application/octet-stream"


def test_subdir_and_mimetype(make_client, site):
    r = make_client(site).get("/static/sub/page.html")
    assert (r.text, r.headers["content-type"]) == ("<p>hi</p>", "text/html; charset=UTF-8")
    r = make_client(site).get("/plain/hello.txt")
    assert r.headers["content-type"] == "text/x-custom"
    assert r.headers["cache-control"] == "max-age=60"


def test_missing_and_traversal(make_client, site):
    c = make_client(site)
    assert c.get("/static/nope.txt").status_code == 404
    assert c.get("/static/sub").status_code == 404
    assert c.get("/static/../secret.txt").status_code in (403, 404)
    assert c.get("/static/sub/%2E%2E/%2E%2E/secret.txt").status_code == 403
    r = c.get("/static/link.txt")
    assert r.status_code == 403
    assert "top secret" not in r.text


def test_conditional_requests(make_client, site):
    c = make_client(site)
    r = c.get("/static/hello.txt")
    etag, lm = r.headers["etag"], r.headers["last-modified"]
    r = c.get("/static/hello.txt", headers={"If-None-Match": etag})
    assert (r.status_code, r.body) == (304, b"")
    assert r.headers["etag"] == etag
    r = c.get("/static/hello.txt", headers={"If-Modified-Since": lm})
    assert r.status_code == 304
    r = c.get("/static/hello.txt", headers={"If-None-Match": '"other"', "If-Modified-Since": lm})
    assert r.status_code == 200


def test_ranges(make_client, site):
    c = make_client(site)
    r = c.get("/static/hello.txt", headers={"Range": "bytes=0-4"})
    assert (r.status_code, r.body) == (206, b"hello")
    assert r.headers["content-range"] == "bytes 0-4/11"
    assert r.headers["content-length"] == "5"
    r = c.get("/static/hello.txt", headers={"Range": "bytes=-5"})
    assert (r.status_code, r.body) == (206, b"world")
    r = c.get("/static/hello.txt", headers={"Range": "bytes=100-200"})
    assert r.status_code == 416
    assert r.headers["content-range"] == "bytes */11"


def test_head(make_client, site):
    r = make_client(site).head("/static/hello.txt")
    assert (r.status_code, r.body) == (200, b"")
    assert r.headers["content-length"] == "11"


def test_download_name_sanitised(make_client, site):
    r = make_client(site).get("/download/hello.txt")
    cd = r.headers["content-disposition"]
    assert cd.startswith("attachment;")
    assert "\r" not in cd and "\n" not in cd
    assert r.text == "hello world"


def test_etag_is_sha256(make_client, site):
    r = make_client(site).get("/static/hello.txt")
    tag = r.headers["etag"].strip('"')
    assert len(bytes.fromhex(tag)) == hashlib.sha256().digest_size
