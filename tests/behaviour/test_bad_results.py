"""A handler result that is not a response body is a 500 before the response starts.

Regression (issue 12): a ``set`` or a Flask-style ``('body', 201)`` tuple was cast as an
iterable of chunks and failed only while the body was sent: a 500 under gunicorn, but
under uvicorn a ``200`` whose connection was then cut. lcore gives tuples no status
meaning; a bounded container is checked whole before the response starts, and the
logged error says what to return instead. (Real servers: tests/e2e/test_trust_e2e.py.)
"""

from __future__ import annotations

import logging

import pytest

from lcore import Lcore, response


def _app():
    app = Lcore()
    app.route("/set", callback=lambda: {"a", "b"})
    app.route("/set-of-int", callback=lambda: {1, 2})
    app.route("/frozenset", callback=lambda: frozenset(["a"]))
    app.route("/flask-tuple", callback=lambda: ("body", 201))
    app.route("/flask-tuple-headers", callback=lambda: ("body", 201, {"X-A": "1"}))
    app.route("/tuple-of-int", callback=lambda: (1, 2))
    app.route("/tuple-of-str", callback=lambda: ("p", b"q", "\u00e9"))

    @app.route("/aset")
    async def aset():
        return {"a"}

    @app.route("/atuple")
    async def atuple():
        return ("body", 201)

    @app.route("/set-status")
    def set_status():
        response.status = 202
        response.set_header("X-Kept", "no")
        return {"a"}

    @app.route("/gen-int-first")
    def gen_int_first():
        yield 7
        yield "never"

    return app


def _logged(caplog) -> str:
    return "\n".join(
        rec.getMessage() + (str(rec.exc_info[1]) if rec.exc_info else "") for rec in caplog.records
    )


@pytest.mark.parametrize("path", ["/set", "/set-of-int", "/frozenset", "/aset", "/set-status"])
def test_a_set_is_a_500_before_the_response_starts(make_client, caplog, path):
    c = make_client(_app())
    with caplog.at_level(logging.ERROR, logger="lcore.error"):
        r = c.get(path)  # a response cut after its start would raise here
    assert r.status_code == 500, (r.status_code, r.body)
    assert b"Internal Server Error" in r.body
    assert "x-kept" not in r.headers
    log = _logged(caplog)
    assert "returned a set" in log or "returned a frozenset" in log, log
    assert "return a list" in log, log


@pytest.mark.parametrize("path", ["/flask-tuple", "/flask-tuple-headers", "/atuple"])
def test_a_flask_style_tuple_is_a_500_that_says_what_to_return(make_client, caplog, path):
    c = make_client(_app())
    with caplog.at_level(logging.ERROR, logger="lcore.error"):
        r = c.get(path)
    assert r.status_code == 500, (r.status_code, r.body)
    log = _logged(caplog)
    assert "returned a tuple" in log, log
    assert "HTTPResponse(body, status=201)" in log and "response.status" in log, log


def test_a_tuple_of_non_chunks_is_a_500(make_client, caplog):
    c = make_client(_app())
    with caplog.at_level(logging.ERROR, logger="lcore.error"):
        r = c.get("/tuple-of-int")
    assert r.status_code == 500
    assert "returned a tuple" in _logged(caplog)


def test_a_tuple_of_str_and_bytes_is_still_a_body(make_client):
    # The Lcore API: an iterable of str/bytes is the body (Bottle joined tuples too).
    r = make_client(_app()).get("/tuple-of-str")
    assert r.status_code == 200
    assert r.body == "pq\u00e9".encode()


def test_a_generator_whose_first_chunk_is_not_str_or_bytes_is_a_500(make_client, caplog):
    # The first chunk is taken before the response starts: checked there, it is a clean
    # 500 under every server, not a started response that breaks.
    c = make_client(_app())
    with caplog.at_level(logging.ERROR, logger="lcore.error"):
        r = c.get("/gen-int-first")
    assert r.status_code == 500
    assert "response chunks must be str or bytes, not int" in _logged(caplog)
