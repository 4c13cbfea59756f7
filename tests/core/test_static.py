"""Tests for lcore.static.static_file.

Every request goes through a real ``Lcore`` app and ``TestClient``, over both the
WSGI and the ASGI side (``make_client``, tests/conftest.py): a broken ASGI client fails
these tests, it never skips them. The handler keeps the response object ``static_file``
returned, so tests can also check what it built before the framework sent it.
"""

from __future__ import annotations

import hashlib
import os
import sys
from types import SimpleNamespace

import pytest

import lcore.static as static_mod
from lcore import Lcore, static_file
from lcore._utils import http_date
from lcore.response import HTTPError, HTTPResponse

CONTENT = b"0123456789abcdefghij"


@pytest.fixture
def root(tmp_path):
    base = tmp_path / "public"
    base.mkdir()
    (base / "hello.txt").write_bytes(CONTENT)
    (base / "sub").mkdir()
    (base / "sub" / "page.html").write_bytes(b"<p>hi</p>")
    (base / "image.png").write_bytes(b"\x89PNG....")
    (base / "blob.unknownext").write_bytes(b"?")
    (base / "archive.tar.gz").write_bytes(b"gz")
    (tmp_path / "secret.txt").write_bytes(b"top secret")
    return base


@pytest.fixture
def serve(make_client):
    """Serve one file through an app; return (result, body bytes).

    ``headers`` are the request's headers, ``extra_headers`` goes to static_file as
    ``headers``, other keywords too. ``inspect(resp)``, if given, runs in the handler
    on static_file's response and its return value is sent instead. The result has
    ``status_code``, ``headers`` and ``body`` as the client saw them, and
    ``returned``: the response object static_file returned.
    """
    app = Lcore()
    spec: dict = {}

    @app.route("/f", method=["GET", "POST"])
    def handler():
        resp = static_file(spec["filename"], spec["root"], **spec["kw"])
        spec["returned"] = resp
        assert isinstance(resp, HTTPResponse)
        return spec["inspect"](resp) if spec["inspect"] else resp

    client = make_client(app)  # WSGI and ASGI (tests/conftest.py), closed after the test

    def call(filename, root, method="GET", headers=None, extra_headers=None, inspect=None, **kw):
        kw["headers"] = extra_headers
        spec.update(filename=filename, root=str(root), kw=kw, inspect=inspect, returned=None)
        r = client.request(method, "/f", headers=headers)
        result = SimpleNamespace(
            status_code=r.status_code, headers=r.headers, body=r.body, returned=spec["returned"]
        )
        return result, r.body

    return call


def etag_of(path) -> str:
    st = os.stat(path)
    real = os.path.realpath(path)
    return '"' + hashlib.sha256(f"{real}:{st.st_mtime}:{st.st_size}".encode()).hexdigest() + '"'


# --------------------------------------------------------------------------- basics


def test_get_serves_the_open_file(serve, root):
    resp, body = serve("hello.txt", root)
    assert resp.status_code == 200
    assert body == CONTENT
    returned = resp.returned.body
    assert hasattr(returned, "read") and hasattr(returned, "fileno")  # sendfile-able
    assert returned.closed  # the framework closed it after sending
    h = resp.headers
    assert h["Content-Type"] == "text/plain; charset=UTF-8"
    assert h["Content-Length"] == str(len(CONTENT))
    assert h["Last-Modified"] == http_date(os.stat(root / "hello.txt").st_mtime)
    assert h["Accept-Ranges"] == "bytes"
    assert h["ETag"] == etag_of(root / "hello.txt")
    assert len(h["ETag"]) == 66 and all(c in "0123456789abcdef" for c in h["ETag"][1:-1])


def test_subdirectory_and_leading_slashes(serve, root):
    for name in ("sub/page.html", "/sub/page.html", "\\sub/page.html", "sub/../sub/page.html"):
        resp, body = serve(name, root)
        assert resp.status_code == 200, name
        assert body == b"<p>hi</p>"
        assert resp.headers["Content-Type"] == "text/html; charset=UTF-8"


def test_root_may_be_relative_or_pathlike(serve, root, monkeypatch):
    monkeypatch.chdir(root.parent)
    assert serve("hello.txt", "public")[1] == CONTENT
    assert serve("hello.txt", root)[1] == CONTENT


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({}, "image/png"),
        ({"mimetype": "image/x-custom"}, "image/x-custom"),
        ({"mimetype": "text/x-custom"}, "text/x-custom; charset=UTF-8"),
        ({"mimetype": "application/javascript"}, "application/javascript; charset=UTF-8"),
        ({"mimetype": "text/plain; charset=latin-1"}, "text/plain; charset=latin-1"),
        ({"mimetype": "text/plain", "charset": None}, "text/plain"),
        ({"mimetype": "text/plain", "charset": "ISO-8859-1"}, "text/plain; charset=ISO-8859-1"),
        ({"mimetype": False}, None),
    ],
)
def test_mimetype_and_charset(serve, root, kw, expected):
    resp, _ = serve("image.png", root, **kw)
    assert resp.returned.headers.get("Content-Type") == expected
    if expected:
        assert resp.headers["Content-Type"] == expected


def test_unknown_type_is_octet_stream_and_gzip(serve, root):
    assert serve("blob.unknownext", root)[0].headers["Content-Type"] == "application/octet-stream"
    assert serve("archive.tar.gz", root)[0].headers["Content-Type"] == "application/gzip"


def test_extra_headers_are_merged_but_cannot_break_framing(serve, root):
    resp, _ = serve(
        "hello.txt",
        root,
        extra_headers={"Cache-Control": "max-age=3600", "Content-Length": "999", "X-Extra": "1"},
    )
    assert resp.headers["Cache-Control"] == "max-age=3600"
    assert resp.headers["X-Extra"] == "1"
    assert resp.headers["Content-Length"] == str(len(CONTENT))


def test_extra_headers_in_other_case_are_replaced_not_duplicated(serve, root):
    resp, _ = serve(
        "hello.txt", root, extra_headers={"content-type": "text/evil", "etag": '"mine"'}
    )
    assert resp.returned.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert resp.headers.get_list("Content-Type") == ["text/plain; charset=UTF-8"]
    assert len(resp.headers.get_list("ETag")) == 1
    tag = etag_of(root / "hello.txt")
    resp, _ = serve(
        "hello.txt",
        root,
        headers={"If-None-Match": tag},
        extra_headers={"content-length": "5", "Cache-Control": "no-cache"},
    )
    assert resp.status_code == 304
    assert "Content-Length" not in resp.returned.headers
    assert resp.headers["Cache-Control"] == "no-cache"


# --------------------------------------------------------------------------- access control


@pytest.mark.parametrize(
    "name",
    [
        "../secret.txt",
        "/../secret.txt",
        "sub/../../secret.txt",
        "..\\secret.txt" if os.sep == "\\" else "../public/../secret.txt",
        "../../../../../../../../etc/passwd",
        "..",
    ],
)
def test_traversal_is_403(serve, root, name):
    resp, body = serve(name, root)
    assert resp.status_code == 403
    assert isinstance(resp.returned, HTTPError)
    assert b"top secret" not in body


def test_absolute_path_stays_under_root(serve, root):
    # "/etc/passwd" means <root>/etc/passwd, which does not exist.
    assert serve("/etc/passwd", root)[0].status_code == 404
    assert serve(str(root.parent / "secret.txt"), root)[0].status_code == 404


def test_prefix_sibling_directory_is_not_inside(serve, root, tmp_path):
    sibling = tmp_path / "public2"
    sibling.mkdir()
    (sibling / "x.txt").write_bytes(b"x")
    assert serve("../public2/x.txt", root)[0].status_code == 403


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinks(serve, root, tmp_path):
    os.symlink(tmp_path / "secret.txt", root / "escape.txt")
    os.symlink(tmp_path, root / "escape_dir")
    os.symlink(root / "hello.txt", root / "alias.txt")
    assert serve("escape.txt", root)[0].status_code == 403
    assert serve("escape_dir/secret.txt", root)[0].status_code == 403
    resp, body = serve("alias.txt", root)
    assert resp.status_code == 200 and body == CONTENT
    # A root that is itself a symlink works.
    os.symlink(root, tmp_path / "link_to_public")
    assert serve("hello.txt", tmp_path / "link_to_public")[1] == CONTENT


def test_missing_directory_and_special_files_are_404(serve, root):
    assert serve("nope.txt", root)[0].status_code == 404
    assert serve("sub", root)[0].status_code == 404
    assert serve("", root)[0].status_code == 404
    assert serve("hello.txt/x", root)[0].status_code == 404
    assert serve("x" * 5000, root)[0].status_code == 404


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_404_without_blocking(serve, root):
    # Opening a FIFO for reading blocks until a writer appears, unless O_NONBLOCK.
    os.mkfifo(root / "pipe")
    assert serve("pipe", root)[0].status_code == 404


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root ignores file permissions"
)
def test_unreadable_is_403(serve, root):
    target = root / "locked.txt"
    target.write_bytes(b"x")
    target.chmod(0)
    try:
        assert serve("locked.txt", root)[0].status_code == 403
    finally:
        target.chmod(0o600)


def test_permission_error_is_403(serve, root, monkeypatch):
    real_open = os.open
    locked = os.path.realpath(root / "hello.txt")

    def fake_open(path, flags, *args, **kw):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(static_mod.os, "open", fake_open)
    resp, body = serve("hello.txt", root)
    assert resp.status_code == 403 and CONTENT not in body
    assert serve("sub/page.html", root)[0].status_code == 200


def test_nul_byte_is_400(serve, root):
    assert serve("hello.txt\x00.png", root)[0].status_code == 400


# --------------------------------------------------------------------------- downloads


@pytest.mark.parametrize(
    "download, expected",
    [
        (True, 'attachment; filename="hello.txt"'),
        ("report.txt", 'attachment; filename="report.txt"'),
        ('my "final"\r\nSet-Cookie: x=1.txt', 'attachment; filename="my finalSet-Cookie: x=1.txt"'),
        ("../../etc/passwd", 'attachment; filename="passwd"'),
        ("a\\b;c.txt", 'attachment; filename="bc.txt"'),
        ("\r\n", 'attachment; filename="download"'),
        (
            "résumé.txt",
            "attachment; filename=\"resume.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt",
        ),
        ("日本.txt", "attachment; filename=\".txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt"),
    ],
)
def test_download_header(serve, root, download, expected):
    resp, _ = serve("hello.txt", root, download=download)
    assert resp.headers["Content-Disposition"] == expected


def test_download_name_guesses_type(serve, root):
    resp, _ = serve("blob.unknownext", root, download="data.json")
    assert resp.headers["Content-Type"] == "application/json"


# --------------------------------------------------------------------------- conditional


def test_etag_options(serve, root):
    assert "ETag" not in serve("hello.txt", root, etag=False)[0].headers
    assert serve("hello.txt", root, etag="v1")[0].headers["ETag"] == '"v1"'
    assert serve("hello.txt", root, etag='"v2"')[0].headers["ETag"] == '"v2"'
    assert serve("hello.txt", root, etag='W/"v3"')[0].headers["ETag"] == 'W/"v3"'


def test_etag_changes_with_content(serve, root):
    first = serve("hello.txt", root)[0].headers["ETag"]
    (root / "hello.txt").write_bytes(CONTENT + b"more")
    assert serve("hello.txt", root)[0].headers["ETag"] != first


@pytest.mark.parametrize(
    "inm",
    ["{tag}", "W/{tag}", "*", '"other", {tag}', '"a",W/{tag} , "b"'],
)
def test_if_none_match_304(serve, root, inm):
    tag = etag_of(root / "hello.txt")
    resp, body = serve("hello.txt", root, headers={"If-None-Match": inm.format(tag=tag)})
    assert resp.status_code == 304
    assert body == b"" and resp.returned.body == ""
    assert "Content-Length" not in resp.returned.headers
    assert resp.headers["ETag"] == tag


def test_if_none_match_miss_ignores_if_modified_since(serve, root):
    future = http_date(os.stat(root / "hello.txt").st_mtime + 3600)
    resp, body = serve(
        "hello.txt", root, headers={"If-None-Match": '"nope"', "If-Modified-Since": future}
    )
    assert resp.status_code == 200 and body == CONTENT


def test_if_none_match_with_etag_disabled(serve, root):
    assert (
        serve("hello.txt", root, etag=False, headers={"If-None-Match": '"x"'})[0].status_code == 200
    )
    assert (
        serve("hello.txt", root, etag=False, headers={"If-None-Match": "*"})[0].status_code == 304
    )


def test_if_modified_since(serve, root):
    mtime = os.stat(root / "hello.txt").st_mtime
    for value, status in [
        (http_date(mtime), 304),
        (http_date(mtime + 100), 304),
        (http_date(mtime - 100), 200),
        (http_date(mtime) + "; length=20", 304),
        ("not a date", 200),
        ("", 200),
    ]:
        resp, body = serve("hello.txt", root, headers={"If-Modified-Since": value})
        assert resp.status_code == status, value
        assert body == (b"" if status == 304 else CONTENT)


def test_conditionals_only_for_get_and_head(serve, root):
    resp, body = serve("hello.txt", root, method="POST", headers={"If-None-Match": "*"})
    assert resp.status_code == 200 and body == CONTENT


# --------------------------------------------------------------------------- HEAD


def test_head(serve, root):
    resp, body = serve("hello.txt", root, method="HEAD")
    assert resp.status_code == 200
    assert resp.returned.body == "" and body == b""
    assert resp.headers["Content-Length"] == str(len(CONTENT))
    assert "ETag" in resp.headers


def test_head_with_matching_etag(serve, root):
    tag = etag_of(root / "hello.txt")
    assert (
        serve("hello.txt", root, method="HEAD", headers={"If-None-Match": tag})[0].status_code
        == 304
    )


def test_head_errors(serve, root):
    assert serve("missing", root, method="HEAD")[0].status_code == 404
    assert serve("../secret.txt", root, method="HEAD")[0].status_code == 403


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    "header, start, end",
    [
        ("bytes=0-4", 0, 5),
        ("bytes=5-", 5, 20),
        ("bytes=-3", 17, 20),
        ("bytes=10-10", 10, 11),
        ("bytes=15-1000", 15, 20),
        ("bytes=0-1,4-5", 0, 2),  # only the first range is served
        ("Bytes=2-3", 2, 4),
        (" bytes=2-3 ", 2, 4),
    ],
)
def test_range(serve, root, header, start, end):
    resp, body = serve("hello.txt", root, headers={"Range": header})
    assert resp.status_code == 206
    assert body == CONTENT[start:end]
    assert resp.headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(CONTENT)}"
    assert resp.headers["Content-Length"] == str(end - start)
    assert not hasattr(resp.returned.body, "read")
    assert resp.returned.body.fp.closed


@pytest.mark.parametrize(
    "header", ["bytes=100-200", "bytes=20-", "bytes=5-2", "bytes=abc", "bytes=-0"]
)
def test_unsatisfiable_range_is_416(serve, root, header):
    resp, _ = serve("hello.txt", root, headers={"Range": header})
    assert resp.status_code == 416
    assert resp.headers["Content-Range"] == f"bytes */{len(CONTENT)}"


def test_range_on_empty_file_is_416(serve, root):
    (root / "empty.txt").write_bytes(b"")
    resp, _ = serve("empty.txt", root, headers={"Range": "bytes=0-"})
    assert resp.status_code == 416
    assert resp.headers["Content-Range"] == "bytes */0"


def test_other_range_units_are_ignored(serve, root):
    resp, body = serve("hello.txt", root, headers={"Range": "items=0-1"})
    assert resp.status_code == 200 and body == CONTENT


def test_range_ignored_for_head(serve, root):
    resp, _ = serve("hello.txt", root, method="HEAD", headers={"Range": "bytes=0-1"})
    assert resp.status_code == 200


def test_large_range_reads_in_chunks(serve, root):
    data = os.urandom(300_000)
    (root / "big.bin").write_bytes(data)
    sizes = []

    def record(resp):
        for chunk in resp.body:
            sizes.append(len(chunk))
            yield chunk

    resp, body = serve("big.bin", root, headers={"Range": "bytes=1000-250999"}, inspect=record)
    assert body == data[1000:251000]
    assert sizes == [65536, 65536, 65536, 250000 - 3 * 65536]
    assert resp.returned.body.fp.closed  # an exhausted iterator closes the file


def test_unconsumed_range_body_closes(serve, root):
    def drop(resp):
        resp.body.close()
        assert resp.body.fp.closed
        assert list(resp.body) == []
        return "dropped"

    assert serve("hello.txt", root, headers={"Range": "bytes=0-1"}, inspect=drop)[1] == b"dropped"


def test_if_range(serve, root):
    tag = etag_of(root / "hello.txt")
    mtime = os.stat(root / "hello.txt").st_mtime
    hit = {"Range": "bytes=0-1", "If-Range": tag}
    assert serve("hello.txt", root, headers=hit)[0].status_code == 206
    miss = {"Range": "bytes=0-1", "If-Range": '"stale"'}
    resp, body = serve("hello.txt", root, headers=miss)
    assert resp.status_code == 200 and body == CONTENT
    assert (
        serve("hello.txt", root, headers={"Range": "bytes=0-1", "If-Range": "W/" + tag})[
            0
        ].status_code
        == 200
    )
    dated = {"Range": "bytes=0-1", "If-Range": http_date(mtime)}
    assert serve("hello.txt", root, headers=dated)[0].status_code == 206
    old = {"Range": "bytes=0-1", "If-Range": http_date(mtime - 10)}
    assert serve("hello.txt", root, headers=old)[0].status_code == 200


# --------------------------------------------------------------------------- through a route


@pytest.fixture
def client(make_client, root):
    app = Lcore()

    @app.route("/static/<filename:path>")
    def files(filename):
        return static_file(filename, root=str(root), headers={"Cache-Control": "max-age=60"})

    @app.route("/download/<filename:path>")
    def dl(filename):
        return static_file(filename, root=str(root), download=True)

    return make_client(app)


def test_route_get(client, root):
    r = client.get("/static/hello.txt")
    assert r.status_code == 200
    assert r.body == CONTENT
    assert r.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert r.headers["Cache-Control"] == "max-age=60"
    assert r.headers["ETag"] == etag_of(root / "hello.txt")


def test_route_conditional_and_range(client, root):
    tag = etag_of(root / "hello.txt")
    r = client.get("/static/hello.txt", headers={"If-None-Match": tag})
    assert r.status_code == 304 and r.body == b""
    r = client.get("/static/hello.txt", headers={"Range": "bytes=2-5"})
    assert r.status_code == 206 and r.body == CONTENT[2:6]
    assert r.headers["Content-Range"] == f"bytes 2-5/{len(CONTENT)}"
    r = client.get("/static/hello.txt", headers={"Range": "bytes=99-"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(CONTENT)}"


def test_route_head_and_errors(client):
    r = client.head("/static/hello.txt")
    assert r.status_code == 200 and r.body == b""
    assert r.headers["Content-Length"] == str(len(CONTENT))
    assert client.get("/static/missing.txt").status_code == 404
    assert client.get("/static/../secret.txt").status_code in (403, 404)
    r = client.get("/static/..%2Fsecret.txt")
    assert r.status_code == 403 and b"top secret" not in r.body
    assert client.get("/static/sub/..%2F..%2Fsecret.txt").status_code == 403


def test_route_download(client):
    r = client.get("/download/sub/page.html")
    assert r.headers["Content-Disposition"] == 'attachment; filename="page.html"'
