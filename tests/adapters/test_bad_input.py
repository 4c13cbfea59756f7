"""Whatever a client sends, the answer is a response below 500 (never a 500, never a hang).

Random paths, query strings, headers, cookies and bodies go through both adapters; the
handlers read every request field that parses client input.
"""

from __future__ import annotations

import io
import sys
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lcore import Lcore, request


def _app() -> Lcore:
    app = Lcore()

    @app.route("/<p:path>", method=["GET", "POST", "PUT"])
    def everything(p):
        return {
            "p": p,
            "q": dict(request.query),
            "forms": dict(request.forms),
            "files": list(request.files),
            "json": request.json if request.method != "GET" else None,
            "cookies": dict(request.cookies),
            "signed": request.get_cookie("s", secret="k"),
            "auth": request.auth,
            "len": request.content_length,
            "addr": request.remote_addr,
            "url": request.url,
            "xhr": request.is_xhr,
        }

    @app.route("/n/<i:int>/<f:float>/<u:uuid>")
    def typed(i, f, u):
        return {"i": i}

    return app


APP = _app()
_text = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=40)
_latin = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255, blacklist_characters="\x7f"),
    max_size=60,
)
_ctype = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xx",
        "multipart/form-data",
        "text/plain",
        "application/vnd.api+json",
        "",
    ]
)


def _wsgi(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> int:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "h",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "1.2.3.4",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for k, v in headers.items():
        key = k.upper().replace("-", "_")
        env[key if key == "CONTENT_TYPE" else "HTTP_" + key] = v
    seen = {}
    out = APP(env, lambda s, h, e=None: seen.setdefault("s", s))
    b"".join(out)
    if hasattr(out, "close"):
        out.close()
    return int(seen["s"].split()[0])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "POST", "PUT"]),
    path=st.one_of(
        _latin.map(lambda s: "/" + s),
        st.sampled_from(["/n/1/2.5/x", "/n/99999999999999999999/1.2.3/0-0", "/%ff", "/\xff\xfe"]),
    ),
    query=_latin,
    ctype=_ctype,
    cookie=_latin,
    auth=st.one_of(st.just(""), _latin.map(lambda s: "Basic " + s)),
    xff=_latin,
    body=st.binary(max_size=200),
)
def test_random_input_never_500_under_wsgi(
    method, path, query, ctype, cookie, auth, xff, body
) -> None:
    headers = {
        "Content-Type": ctype,
        "Cookie": cookie,
        "Authorization": auth,
        "X-Forwarded-For": xff,
    }
    status = _wsgi(method, path, query, headers, body)
    assert status < 500, (method, path, query, headers, body)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "POST"]),
    path=_text.map(lambda s: "/" + s),
    query=st.binary(max_size=40),
    ctype=_ctype,
    cookie=_latin,
    body=st.binary(max_size=200),
)
def test_random_input_never_500_under_asgi(method, path, query, ctype, cookie, body) -> None:
    import anyio

    status: dict[str, int] = {}

    async def run() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("utf8", "surrogatepass"),
            "root_path": "",
            "query_string": query,
            "headers": [
                (b"content-type", ctype.encode("latin1")),
                (b"cookie", cookie.encode("latin1")),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("1.2.3.4", 5),
            "server": ("h", 80),
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await anyio.sleep(5)
            return {"type": "http.disconnect"}

        async def send(msg: dict[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                status["s"] = msg["status"]

        with anyio.fail_after(10):
            await APP(scope, receive, send)

    anyio.run(run)
    assert status["s"] < 500, (method, path, query, ctype, cookie, body)
