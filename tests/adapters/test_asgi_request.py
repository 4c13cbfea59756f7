"""The ASGI adapter maps a scope onto the core's neutral request as the keyword form does."""

from __future__ import annotations

import pytest

from lcore.request import BaseRequest
from lcore_asgi.adapter import ASGIBody, ASGIRequest, describe_scope


async def _receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


SCOPES = {
    "get": {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/a/b",
        "raw_path": b"/a/b",
        "root_path": "",
        "query_string": b"x=1&y=%C3%A9",
        "headers": [(b"host", b"example.org"), (b"accept", b"*/*")],
        "client": ("10.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    },
    "mounted-post": {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/api/items",
        "raw_path": b"/api/items",
        "root_path": "/api",
        "query_string": b"",
        "headers": [(b"content-length", b"12"), (b"content-type", b"application/json")],
        "client": ["10.0.0.2", 1],
        "server": ("h", None),
    },
    "minimal": {"type": "http", "method": "GET", "path": "", "headers": ()},
}


EXPECTED = {
    "get": dict(
        method="GET",
        _path="/a/b",
        raw_path=b"/a/b",
        query_string="x=1&y=%C3%A9",
        _raw_headers=[(b"host", b"example.org"), (b"accept", b"*/*")],
        _client=("10.0.0.1", 5000),
        _server=("127.0.0.1", 8000),
        scheme="http",
        http_version="1.1",
        script_name="",
    ),
    "mounted-post": dict(
        method="POST",
        _path="/items",
        raw_path=b"/api/items",
        query_string="",
        _raw_headers=[(b"content-length", b"12"), (b"content-type", b"application/json")],
        _client=("10.0.0.2", 1),
        _server=("h", 0),
        scheme="https",
        http_version="1.1",
        script_name="/api",
    ),
    "minimal": dict(
        method="GET",
        _path="/",
        raw_path=None,
        query_string="",
        _raw_headers=[],
        _client=None,
        _server=("", 0),
        scheme="http",
        http_version="1.1",
        script_name="",
    ),
}


@pytest.mark.parametrize("name", SCOPES)
def test_request_filled_from_scope(name):
    scope = SCOPES[name]
    req = ASGIRequest(scope, _receive)
    assert {slot: getattr(req, slot) for slot in EXPECTED[name]} == EXPECTED[name]
    assert type(req._client) in (tuple, type(None)) and type(req._raw_headers) is list
    assert req._cache == {} and req.url_args == {}
    assert req.app is None and req.route is None and req.max_body is None
    assert req._receive is _receive
    # Every slot is set (the class has no __getattr__ to fall back on).
    for cls in type(req).__mro__:
        for slot in cls.__dict__.get("__slots__", ()):
            if slot != "__weakref__":
                getattr(req, slot)
    assert isinstance(req._source, ASGIBody)
    assert req.url.startswith(("http://", "https://")) and req.path == EXPECTED[name]["_path"]


def test_body_framing_read_from_the_headers():
    post = ASGIRequest(SCOPES["mounted-post"], _receive)
    assert post._source.length == 12 and post._source.may_have_body is True
    get = ASGIRequest(SCOPES["get"], _receive)
    assert get._source.length is None and get._source.may_have_body is False
    h2 = dict(SCOPES["get"], http_version="2", method="PUT")
    assert ASGIRequest(h2, _receive)._source.may_have_body is True  # no framing on h2
    chunked = dict(SCOPES["get"], method="POST", headers=[(b"transfer-encoding", b"Chunked")])
    assert ASGIRequest(chunked, _receive)._source.may_have_body is True
    bad = dict(SCOPES["get"], headers=[(b"content-length", b"x")])
    assert ASGIRequest(bad, _receive)._source.length == -1


def test_response_header_cache_stays_bounded():
    """Header pairs are remembered up to a limit: values taken from requests (a Location,
    a filename) cannot grow it without end, and every pair is still encoded right."""
    from lcore_asgi import adapter

    pairs = [("X-Echo", f"value-{i}") for i in range(adapter._PAIRS_MAX * 3)]
    out = adapter._headers_out(pairs + [("Content-Type", "text/plain")])
    assert len(adapter._PAIRS) <= adapter._PAIRS_MAX
    assert out[-1] == (b"content-type", b"text/plain")
    assert out[:3] == [(b"x-echo", b"value-0"), (b"x-echo", b"value-1"), (b"x-echo", b"value-2")]
    assert out[-2] == (b"x-echo", f"value-{adapter._PAIRS_MAX * 3 - 1}".encode())


@pytest.mark.parametrize("name", SCOPES)
def test_body_source_made_on_first_use(name):
    """The framing answers ``_body_needed`` before the body source exists, and the same
    as the source does once it is made; a copy shares the one source."""
    lazy = ASGIRequest(SCOPES[name], _receive)
    assert lazy._src is None
    early = lazy._body_needed
    assert lazy._src is None  # asking did not make it
    source = lazy._source
    assert isinstance(source, ASGIBody) and lazy._src is source and source.receive is _receive
    assert lazy._body_needed == early == (name == "mounted-post")
    fresh = ASGIRequest(SCOPES[name], _receive)
    dup = fresh.copy()
    assert dup._source is fresh._source and dup._may_body == fresh._may_body


NEUTRAL = (
    "method",
    "path",
    "script_name",
    "raw_path",
    "query_string",
    "client",
    "server",
    "scheme",
    "http_version",
    "url",
    "remote_addr",
)


@pytest.mark.parametrize("name", SCOPES)
def test_asgi_request_reads_as_the_neutral_request(name):
    """ASGIRequest fills its slots straight from the scope (PERF); the neutral request
    built from ``describe_scope`` reads the same, field by field."""
    fast = ASGIRequest(SCOPES[name], _receive)
    neutral = BaseRequest(**describe_scope(SCOPES[name]))
    assert {f: getattr(fast, f) for f in NEUTRAL} == {f: getattr(neutral, f) for f in NEUTRAL}
    assert (
        dict(fast.headers) == dict(neutral.headers)
        and fast.header_pairs() == neutral.header_pairs()
    )
    assert neutral.describe() == BaseRequest(**neutral.describe()).describe()


def test_websocket_scope_without_scheme_says_ws():
    scope = dict(SCOPES["get"], type="websocket")
    del scope["scheme"]
    assert BaseRequest(**describe_scope(scope)).url == "ws://example.org/a/b?x=1&y=%C3%A9"
