"""MultiDict, FormsDict, HeaderDict, WSGIHeaderDict and HeaderProperty."""

from __future__ import annotations

import io

import pytest

from lcore import BaseResponse, FileUpload, FormsDict, HeaderDict, MultiDict, WSGIHeaderDict
from lcore.datastructures import HeaderProperty


def test_multidict_basics():
    md = MultiDict(a=1)
    md["a"] = 2
    md.append("b", "x")
    assert md["a"] == 2
    assert md.getall("a") == [1, 2]
    assert md.getall("missing") == []
    assert md.get("a", index=0) == 1
    assert md.get("a", index=5, default="d") == "d"
    assert md.get("missing", "d") == "d"
    assert md.get("a", type=str) == "2"
    assert md.get("b", type=int, default=-1) == -1
    assert len(md) == 2 and "a" in md and list(md) == ["a", "b"]
    assert list(md.keys()) == ["a", "b"]
    assert list(md.values()) == [2, "x"]
    assert list(md.items()) == [("a", 2), ("b", "x")]
    assert list(md.allitems()) == [("a", 1), ("a", 2), ("b", "x")]
    md.replace("a", 3)
    assert md.getall("a") == [3]
    del md["a"]
    assert "a" not in md
    with pytest.raises(KeyError):
        md["a"]  # noqa: B018
    assert md.getone("b") == "x" and md.getlist("b") == ["x"]


def test_multidict_from_pairs_and_copy():
    md = MultiDict([("k", 1), ("k", 2)])
    assert md.getall("k") == [1, 2]
    cp = md.copy()
    cp.append("k", 3)
    assert md.getall("k") == [1, 2]
    assert cp.getall("k") == [1, 2, 3]
    assert type(cp) is MultiDict
    assert repr(md) == "<MultiDict [('k', 1), ('k', 2)]>"


def test_formsdict_attribute_access():
    fd = FormsDict()
    fd.append("name", "Ann")
    fd.append("tag", "a")
    fd.append("tag", "b")
    assert fd.name == "Ann"
    assert fd.tag == "b"
    assert fd.missing == ""
    assert fd.getunicode("missing", "d") == "d"
    assert fd.getunicode("name") == "Ann"
    assert type(fd.decode()) is FormsDict and fd.decode().getall("tag") == ["a", "b"]
    with pytest.raises(AttributeError):
        fd.__missing_dunder__  # noqa: B018


def test_formsdict_keeps_file_uploads():
    fd = FormsDict()
    up = FileUpload(io.BytesIO(b"x"), "doc", "a.txt")
    fd.append("doc", up)
    assert fd.doc is up
    assert fd.getunicode("doc") is up


def test_headerdict_case_insensitive():
    h = HeaderDict({"content-type": "text/plain"})
    assert h["Content-Type"] == "text/plain"
    assert "CONTENT-TYPE" in h
    h["x_custom"] = 5
    assert h["X-Custom"] == "5"
    assert list(h.keys()) == ["Content-Type", "X-Custom"]
    h.append("Set-Cookie", "a=1")
    h.append("set-cookie", "b=2")
    assert h.getall("SET-COOKIE") == ["a=1", "b=2"]
    h.replace("set-cookie", "c=3")
    assert h.getall("Set-Cookie") == ["c=3"]
    assert h.get("x-custom", type=int) == 5
    h.filter(["x-custom", "nope"])
    assert "X-Custom" not in h
    del h["content-type"]
    assert len(h) == 1


def test_headerdict_rejects_control_characters():
    h = HeaderDict()
    with pytest.raises(ValueError):
        h["X-A"] = "a\r\nInjected: 1"
    with pytest.raises(ValueError):
        h["X-A\n"] = "v"
    with pytest.raises(ValueError):
        h.append("X-A", "a\0b")


def test_wsgiheaderdict_from_raw_pairs():
    h = WSGIHeaderDict(
        [
            (b"host", b"example.com"),
            (b"accept", b"a"),
            (b"accept", b"b"),
            (b"cookie", b"x=1"),
            (b"cookie", b"y=2"),
            (b"x-latin", "caf\u00e9".encode("latin1")),
        ]
    )
    assert h["Host"] == "example.com"
    assert h["ACCEPT"] == "a, b"
    assert h["Cookie"] == "x=1; y=2"
    assert h["X_Latin"] == "caf\u00e9"
    assert h.get("missing", "d") == "d"
    assert "host" in h and 42 not in h
    assert sorted(h) == ["Accept", "Cookie", "Host", "X-Latin"]
    assert len(h) == 4
    assert h.raw("host") == "example.com"
    with pytest.raises(TypeError):
        h["Host"] = "x"
    with pytest.raises(TypeError):
        del h["Host"]


def test_wsgiheaderdict_from_environ():
    env = {
        "HTTP_HOST": "h",
        "HTTP_X_FORWARDED_FOR": "1.2.3.4",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "",
        "PATH_INFO": "/",
        "wsgi.input": None,
    }
    h = WSGIHeaderDict(env)
    assert dict(h.items()) == {
        "Host": "h",
        "X-Forwarded-For": "1.2.3.4",
        "Content-Type": "text/plain",
    }
    assert "Content-Length" not in h


def test_header_property():
    class Obj:
        def __init__(self):
            self.h = {}

        def get_header(self, name, default=None):
            return self.h.get(name, default)

        def __setitem__(self, name, value):
            self.h[name] = value

        def __delitem__(self, name):
            del self.h[name]

        length = HeaderProperty("Content-Length", reader=int, default=-1)
        ctype = HeaderProperty("Content-Type")

    o = Obj()
    assert o.length == -1 and o.ctype == ""
    o.length = 12
    assert o.h == {"Content-Length": "12"} and o.length == 12
    del o.length
    assert o.length == -1
    assert isinstance(Obj.ctype, HeaderProperty)


def test_response_headers_view_is_live():
    from lcore import BaseResponse

    r = BaseResponse()
    r.headers["X-A"] = "1"
    assert r.get_header("x-a") == "1"
    r.set_header("X-B", "2")
    assert r.headers["x-b"] == "2"
    assert dict(r.headerlist) == {
        "Content-Type": "text/html; charset=UTF-8",
        "X-A": "1",
        "X-B": "2",
    }


def test_header_names_normalised_and_the_memo_bounded():
    from lcore import datastructures as ds

    r = BaseResponse()
    r.set_header("content_type", "text/plain")
    r.set_header("x-request-id", "1")
    assert r.headerlist[:2] == [("Content-Type", "text/plain"), ("X-Request-Id", "1")]
    assert r.get_header("CONTENT-TYPE") == "text/plain"
    for bad in ("X-A\n", "X-B\r", "X\0C"):
        with pytest.raises(ValueError, match="control characters"):
            r.set_header(bad, "v")
        assert bad not in ds._HKEYS
    # Names taken from requests cannot grow the memo past its bound; all still normalised.
    for i in range(ds._HKEYS_MAX * 3):
        assert ds._hkey(f"x-echo-{i}") == f"X-Echo-{i}"
    assert len(ds._HKEYS) <= ds._HKEYS_MAX
    assert ds._hkey(7) == "7"  # non-str names are converted first
