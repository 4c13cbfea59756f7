"""The conformance app: one handler per edge case, served by every server in
tests/e2e/test_conformance_e2e.py, whose responses are compared."""

import enum
import io
import os
import sys

from lcore import HTTPResponse, Lcore, abort, redirect, response, static_file

app = Lcore()
HERE = os.path.dirname(os.path.abspath(__file__))
BIG = b"0123456789abcdef" * 65536  # 1 MiB


if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # the same case on 3.10

    class StrEnum(str, enum.Enum):
        pass


class Color(StrEnum):
    RED = "red"


@app.hook("before_request")
def maybe_boom():
    from lcore import request

    if request.path == "/hook-boom":
        raise RuntimeError("uncaught in a hook")


@app.get("/health")
def health():
    return "ok"


@app.get("/str")
def r_str():
    return "Hello, wörld"


@app.get("/bytes")
def r_bytes():
    return b"\x00\x01raw"


@app.get("/dict")
def r_dict():
    return {"a": 1, "ü": [1, 2]}


@app.get("/list")
def r_list():
    return [1, "two", None]


@app.get("/none")
def r_none():
    return None


@app.get("/set")
def r_set():
    return {"only"}


@app.get("/tuple")
def r_tuple():
    return ("body", 201)


@app.get("/httpresponse")
def r_httpresponse():
    return HTTPResponse("made", status=202, headers={"X-Made": "yes"})


@app.get("/raise-httpresponse")
def r_raise_httpresponse():
    raise HTTPResponse("raised", status=409, X_Raised="1")


@app.get("/abort")
def r_abort():
    abort(418, "short and stout")


@app.get("/redirect")
def r_redirect():
    redirect("/str")


@app.get("/file")
def r_file():
    return io.BytesIO(b"from a file-like object\n" * 100)


@app.get("/gen")
def r_gen():
    def body():
        yield "text, "
        yield b"bytes, "
        yield "done"

    return body()


@app.get("/gen-raise-before")
def r_gen_raise_before():
    def body():
        raise ValueError("before the first chunk")
        yield "never"

    return body()


@app.get("/gen-raise-after")
def r_gen_raise_after():
    def body():
        yield "first chunk;"
        raise ValueError("after the first chunk")

    return body()


@app.get("/agen")
async def r_agen():
    async def body():
        for i in range(3):
            yield f"a{i};"

    return body()


@app.get("/strenum")
def r_strenum():
    return Color.RED


@app.get("/unicode-header")
def r_unicode_header():
    response.set_header("X-Latin", "Grüße")
    return "h"


@app.get("/cookies")
def r_cookies():
    response.set_cookie("a", "1")
    response.set_cookie("b", "two words", max_age=60, path="/x")
    response.set_cookie("s", {"signed": True}, secret="k")
    return "c"


@app.get("/big")
def r_big():
    return BIG


@app.get("/stream")
def r_stream():
    def body():
        for i in range(0, len(BIG), 65536):
            yield BIG[i : i + 65536]

    return body()


@app.get("/static")
def r_static():
    return static_file("conformance_app.py", root=HERE, mimetype="text/x-python")


@app.get("/not-modified")
def r_not_modified():
    return HTTPResponse(status=304, headers={"ETag": '"v1"'})


@app.get("/hook-boom")
def r_hook_boom():
    return "unreachable"


@app.post("/echo")
def r_echo():
    from lcore import request

    return request.body.read()
