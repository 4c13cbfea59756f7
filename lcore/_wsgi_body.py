"""Reading a request body from a WSGI environ's ``wsgi.input`` (a blocking file)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .request import BodySource

_CHUNK = 65536


class WSGIBody(BodySource):
    """Body chunks from ``wsgi.input``: exactly Content-Length bytes, or until EOF when
    the server says the input is terminated (it de-chunked a chunked body)."""

    __slots__ = ("environ", "length")

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        cl = environ.get("CONTENT_LENGTH", "")
        try:
            self.length = int(cl) if cl else None
        except ValueError:
            self.length = None

    def iter_sync(self) -> Iterator[bytes]:
        env = self.environ
        stream = env["wsgi.input"]
        read = stream.read
        if self.length is not None:
            remaining = self.length
            while remaining > 0:
                chunk = read(min(_CHUNK, remaining))
                if not chunk:
                    from .response import HTTPError

                    raise HTTPError(400, "Request body shorter than Content-Length.")
                remaining -= len(chunk)
                yield chunk
            return
        te = env.get("HTTP_TRANSFER_ENCODING", "").lower()
        if env.get("wsgi.input_terminated") or "chunked" in te:
            while True:
                chunk = read(_CHUNK)
                if not chunk:
                    return
                yield chunk
