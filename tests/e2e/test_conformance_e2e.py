"""Conformance: one app module (apps/conformance_app.py), every server, the same answers.

Each server kind is started once for the module and every case goes through it; status,
body and the headers a client can rely on are compared with the reference server. What a
server imposes is normalised away, each entry of ``ALLOWED`` with its reason; any other
difference fails. ``pytest -s`` prints the matrix (cases x servers: status).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from .servers import free_port, launch, server_command

pytestmark = pytest.mark.e2e

SPEC = "conformance_app:app"
REFERENCE = "gunicorn-sync"


def _command(kind: str, port: int) -> list[str]:
    return server_command(kind, SPEC, port, threads=4, grace=3)


SERVERS = [
    "gunicorn-sync",
    "gunicorn-gthread",
    "gunicorn-asgi",
    "uvicorn",
    "hypercorn",
    "granian-wsgi",
    "granian-asgi",
    "lcore",
]


def _if_none_match(client: httpx.Client) -> dict[str, Any]:
    etag = client.get("/static").headers["etag"]
    return {"headers": {"If-None-Match": etag}}


#: (name, method, path, request kwargs or a function of the client giving them)
CASES: list[tuple[str, str, str, dict[str, Any] | Callable[[httpx.Client], dict[str, Any]]]] = [
    ("str", "GET", "/str", {}),
    ("bytes", "GET", "/bytes", {}),
    ("dict", "GET", "/dict", {}),
    ("list", "GET", "/list", {}),
    ("none", "GET", "/none", {}),
    ("set", "GET", "/set", {}),
    ("tuple", "GET", "/tuple", {}),
    ("HTTPResponse", "GET", "/httpresponse", {}),
    ("raise HTTPResponse", "GET", "/raise-httpresponse", {}),
    ("abort", "GET", "/abort", {}),
    ("redirect", "GET", "/redirect", {}),
    ("file-like", "GET", "/file", {}),
    ("generator", "GET", "/gen", {}),
    ("gen raises before", "GET", "/gen-raise-before", {}),
    ("gen raises after", "GET", "/gen-raise-after", {}),
    ("async generator", "GET", "/agen", {}),
    ("StrEnum", "GET", "/strenum", {}),
    ("unicode header", "GET", "/unicode-header", {}),
    ("cookies", "GET", "/cookies", {}),
    ("HEAD", "HEAD", "/str", {}),
    ("HEAD stream", "HEAD", "/stream", {}),
    ("static", "GET", "/static", {}),
    ("304 static", "GET", "/static", _if_none_match),
    ("304 response", "GET", "/not-modified", {}),
    ("1 MiB body", "GET", "/big", {}),
    ("streamed 1 MiB", "GET", "/stream", {}),
    ("hook raises", "GET", "/hook-boom", {}),
    ("404", "GET", "/nope", {}),
    ("405", "DELETE", "/str", {}),
    ("POST echo", "POST", "/echo", {"content": "ü body".encode()}),
]

#: Differences a server imposes, normalised away before comparing, each with its reason.
#: (header name -> reason); header names are compared case-insensitively.
ALLOWED: dict[str, str] = {
    "date": "each server stamps its own clock (and some send none)",
    "server": "each server names itself (uvicorn, hypercorn, granian...) or sends nothing",
    "connection": "hop-by-hop (RFC 9110 7.6.1): gunicorn's sync worker answers Connection: close, "
    "the others keep the connection alive",
    "keep-alive": "hop-by-hop (RFC 9110 7.6.1)",
    "transfer-encoding": "framing of a body of unknown length (chunked, or ended by closing the "
    "connection) is the server's; the body itself is compared",
}
#: Header name case: HTTP/1.1 names are case-insensitive (RFC 9110 5.1); WSGI servers send
#: lcore's Title-Case, ASGI servers lowercase. httpx gives names lowercased.
CASE_NOTE = "header names compared lowercased: WSGI sends Title-Case, ASGI lowercase (RFC 9110 5.1)"
#: A body cut short by an error: how much of it reached the client before the server
#: aborted the connection is the server's (granian's WSGI side may drop a chunk it had
#: not flushed yet); that it was cut short (never a complete-looking body) is compared.
PARTIAL_BODY = {"gen raises after"}
PARTIAL_BODY_REASON = "bytes already yielded may be lost when the server aborts the connection"


def _comparable(name: str, result: dict[str, Any]) -> dict[str, Any]:
    if name in PARTIAL_BODY and result["outcome"].startswith("truncated"):
        return {**result, "body": "(partial)"}
    return result


def _body_repr(body: bytes) -> str:
    if len(body) > 512:
        return f"<{len(body)} bytes sha256 {hashlib.sha256(body).hexdigest()[:16]}>"
    return repr(body)


def _fetch(client: httpx.Client, case: tuple[str, str, str, Any], base: str) -> dict[str, Any]:
    name, method, path, kw = case
    if callable(kw):
        kw = kw(client)
    body = b""
    outcome = "complete"
    try:
        with client.stream(method, path, **kw) as r:
            try:
                for chunk in r.iter_raw():
                    body += chunk
            except httpx.HTTPError as exc:
                outcome = f"truncated ({type(exc).__name__})"
            status = r.status_code
            headers = [(k.lower(), v) for k, v in r.headers.multi_items()]
    except httpx.HTTPError as exc:
        return {"status": 0, "headers": (), "body": "", "outcome": f"failed ({type(exc).__name__})"}
    kept = []
    for k, v in headers:
        if k in ALLOWED:
            continue
        if k == "content-length" and method != "HEAD" and v == str(len(body)):
            v = "=len(body)"  # the URL (port) in an error page changes the length, not its truth
        kept.append((k, v.replace(base, "BASE")))
    body = body.replace(base.encode(), b"BASE")
    return {
        "status": status,
        "headers": tuple(sorted(kept)),
        "body": _body_repr(body),
        "outcome": outcome,
    }


@pytest.fixture(scope="module")
def results(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, dict[str, dict[str, Any]]]]:
    """Every case through every server; one server process per kind, started once."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    tmp = tmp_path_factory.mktemp("conformance")
    logs: dict[str, str] = {}
    for kind in SERVERS:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with launch(kind, _command(kind, port), url, tmp) as srv:
            with httpx.Client(base_url=url, timeout=10) as client:
                out[kind] = {c[0]: _fetch(client, c, url) for c in CASES}
            logs[kind] = srv.output()
    _print_matrix(out)
    yield out


def _print_matrix(out: dict[str, dict[str, dict[str, Any]]]) -> None:
    ref = out[REFERENCE]
    width = max(len(c[0]) for c in CASES)
    lines = [
        "",
        "conformance matrix (status; ! = differs from " + REFERENCE + ", ~ = body truncated)",
        " " * width + " | " + " | ".join(SERVERS),
    ]
    for name, *_ in CASES:
        cells = []
        for kind in SERVERS:
            got = out[kind][name]
            mark = "!" if _comparable(name, got) != _comparable(name, ref[name]) else ""
            mark += "~" if got["outcome"] != "complete" else ""
            cells.append(f"{got['status']}{mark}".ljust(len(kind)))
        lines.append(name.ljust(width) + " | " + " | ".join(cells))
    lines.append("normalised: " + "; ".join(f"{k}: {v}" for k, v in ALLOWED.items()))
    lines.append("normalised: " + CASE_NOTE)
    lines.append(
        f"normalised: the body of a truncated {sorted(PARTIAL_BODY)}: " + PARTIAL_BODY_REASON
    )
    lines.append(
        "normalised: the test's base URL (random port) in bodies and Location -> BASE; "
        "a Content-Length equal to the body's length -> '=len(body)'"
    )
    print("\n".join(lines))


def test_reference_answers_are_right(results: dict[str, dict[str, dict[str, Any]]]) -> None:
    """So that "every server agrees" cannot mean "every server is broken the same way"."""
    ref = results[REFERENCE]

    def h(case: str, name: str) -> str | None:
        return dict(ref[case]["headers"]).get(name)

    assert (ref["str"]["status"], ref["str"]["body"]) == (200, repr("Hello, wörld".encode()))
    assert h("str", "content-type") == "text/html; charset=UTF-8"
    assert ref["dict"]["body"] == repr('{"a":1,"ü":[1,2]}'.encode())
    assert ref["none"]["status"] == 200 and ref["none"]["body"] == "b''"
    assert ref["set"]["status"] == 500
    # lcore gives a tuple no status meaning (a TypeError naming HTTPResponse(body, status=201)).
    assert ref["tuple"]["status"] == 500
    gen_after = ref["gen raises after"]
    assert (gen_after["status"], gen_after["body"]) == (200, "b'first chunk;'")
    assert gen_after["outcome"].startswith("truncated")  # never a complete-looking body
    assert ref["HTTPResponse"]["status"] == 202 and h("HTTPResponse", "x-made") == "yes"
    assert ref["raise HTTPResponse"]["status"] == 409 and h("raise HTTPResponse", "x-raised") == "1"
    assert ref["abort"]["status"] == 418
    assert ref["redirect"]["status"] == 303 and h("redirect", "location") == "BASE/str"
    assert ref["generator"]["body"] == "b'text, bytes, done'"
    assert ref["gen raises before"]["status"] == 500
    assert ref["async generator"]["body"] == "b'a0;a1;a2;'"
    assert h("unicode header", "x-latin") == "Grüße"  # latin-1 on the wire, as WSGI requires
    assert len([v for k, v in ref["cookies"]["headers"] if k == "set-cookie"]) == 3
    assert ref["HEAD"]["status"] == 200 and ref["HEAD"]["body"] == "b''"
    assert ref["304 static"]["status"] == 304 and ref["304 static"]["body"] == "b''"
    assert ref["304 response"]["status"] == 304
    assert (
        ref["1 MiB body"]["body"] == ref["streamed 1 MiB"]["body"]
        and "1048576 bytes" in ref["1 MiB body"]["body"]
    )
    assert ref["hook raises"]["status"] == 500
    assert (
        ref["404"]["status"] == 404
        and ref["405"]["status"] == 405
        and h("405", "allow") == "GET,HEAD"
    )
    assert ref["POST echo"]["body"] == repr("ü body".encode())


@pytest.mark.parametrize("kind", [k for k in SERVERS if k != REFERENCE])
def test_server_answers_like_the_reference(
    kind: str, results: dict[str, dict[str, dict[str, Any]]]
) -> None:
    ref, got = results[REFERENCE], results[kind]
    diffs = [
        f"{name}:\n  {REFERENCE}: {ref[name]}\n  {kind}: {got[name]}"
        for name, *_ in CASES
        if _comparable(name, got[name]) != _comparable(name, ref[name])
    ]
    assert not diffs, f"{kind} differs from {REFERENCE} on {len(diffs)} case(s):\n" + "\n".join(
        diffs
    )
