"""The built-in error page, in HTML or JSON as the client asks.

An :class:`~lcore.HTTPError` that no ``@app.error(code)`` handler answers gets this page.
The config key ``error.format`` chooses: ``'json'`` always sends
``{"error": "<reason>", "status": N}``; ``'html'`` (the default) sends the HTML page,
except to a client whose ``Accept`` header prefers JSON to HTML (``Accept:
application/json``, as API clients send): that client gets the JSON body too. With
``debug`` on, both forms carry the exception and its traceback.
"""

from __future__ import annotations

from typing import Any

from ._utils import html_escape, json_dumps
from .response import HTTPError

__all__ = ["default_error_body", "prefers_json"]

_HTML = ("text/html", "application/xhtml+xml")


def prefers_json(accept: str | None) -> bool:
    """Whether an ``Accept`` header ranks a JSON type above HTML.

    Each side gets the quality of its best match, the most specific range winning
    (``application/json`` over ``application/*`` over ``*/*``); JSON is chosen only
    when its quality is strictly higher, so a browser (``text/html, ..., */*;q=0.8``),
    ``*/*`` and a missing header all get HTML.
    """
    if not accept:
        return False
    q_json: tuple[int, float] = (-1, 0.0)  # (specificity, q) of the best matching range
    q_html: tuple[int, float] = (-1, 0.0)
    for item in accept.split(","):
        mime, _, params = item.partition(";")
        mime = mime.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        major, _, minor = mime.partition("/")
        if mime == "*/*":
            specific = 0
            json_match = html_match = True
        elif minor == "*":
            specific = 1
            json_match, html_match = major == "application", major == "text"
        else:
            specific = 2
            json_match = mime == "application/json" or minor.endswith("+json")
            html_match = mime in _HTML
        if json_match and specific > q_json[0]:
            q_json = (specific, q)
        if html_match and specific > q_html[0]:
            q_html = (specific, q)
    return q_json[1] > q_html[1]


def default_error_body(app: Any, c: Any, err: HTTPError) -> Any:
    """The built-in error page for ``err``: JSON or HTML (see the module docstring)."""
    resp = c.response
    fmt = app.config.get("error.format", "html")
    debug = app.config.get("debug", False)
    text = err.body if isinstance(err.body, str) and err.body else err.reason
    if fmt == "html":
        resp.add_header("Vary", "Accept")  # the body depends on Accept; caches must key on it
    if fmt == "json" or (fmt == "html" and prefers_json(c.request.get_header("Accept"))):
        resp._headers["Content-Type"] = ["application/json"]
        doc: dict[str, Any] = {"error": text, "status": err.status_code}
        if debug and err.exception is not None:
            doc["exception"] = repr(err.exception)
            doc["traceback"] = err.traceback
        return json_dumps(doc)
    # The page is HTML whatever type the handler had chosen before it failed (a JSON
    # handler that aborts must not label this page JSON), unless the error names one.
    if "Content-Type" not in err._headers:
        resp._headers["Content-Type"] = ["text/html; charset=UTF-8"]
    parts = [
        "<!DOCTYPE html>\n<html><head><title>Error: ",
        html_escape(err.status_line),
        "</title><style>html{background:#eee;font-family:sans-serif}"
        "body{background:#fff;border:1px solid #ddd;padding:15px;margin:15px}"
        "pre{background:#eee;border:1px solid #ddd;padding:5px}</style></head><body>",
        "<h1>Error: ",
        html_escape(err.status_line),
        "</h1>",
        "<p>Sorry, the requested URL <tt>",
        html_escape(repr(c.request.url)),
        "</tt> caused an error:</p><pre>",
        html_escape(text),
        "</pre>",
    ]
    if debug and err.exception is not None:
        parts += ["<h2>Exception:</h2><pre>", html_escape(repr(err.exception)), "</pre>"]
        if err.traceback:
            parts += ["<h2>Traceback:</h2><pre>", html_escape(err.traceback), "</pre>"]
    parts.append("</body></html>\n")
    return "".join(parts)
