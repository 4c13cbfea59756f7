"""Errors that say what to do: error pages that follow ``Accept``, route filters that list
the known ones, and ``request.json`` on empty or malformed bodies (both protocols)."""

from __future__ import annotations

import json

import pytest

from lcore import Lcore, RouterUnknownModeError, abort, request
from lcore.errorpage import prefers_json


@pytest.mark.parametrize(
    ("accept", "json_wanted"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
        ("application/json", True),
        ("application/problem+json", True),
        ("application/json, text/html;q=0.9", True),
        ("text/html, application/json", False),  # a tie goes to HTML
        ("application/json;q=0.5, text/html;q=0.6", False),
        ("application/json, */*;q=0.1", True),
        ("application/*", True),
        ("application/json;q=0, */*", False),
        ("application/json;q=oops", False),
    ],
)
def test_prefers_json(accept: str | None, json_wanted: bool) -> None:
    assert prefers_json(accept) is json_wanted


def _failing_app() -> Lcore:
    app = Lcore()

    @app.route("/gone")
    def gone() -> str:
        abort(410, "It moved away.")
        return ""

    return app


def test_a_json_client_gets_the_json_error_body(make_client) -> None:  # type: ignore[no-untyped-def]
    c = make_client(_failing_app())
    for path, status, text in (("/gone", 410, "It moved away."), ("/nowhere", 404, "Not Found")):
        r = c.get(path, headers={"Accept": "application/json"})
        assert r.status_code == status
        assert r.headers["Content-Type"] == "application/json"
        assert json.loads(r.text) == {"error": text, "status": status}
        assert "Accept" in r.headers["Vary"]


def test_a_browser_still_gets_the_html_page(make_client) -> None:  # type: ignore[no-untyped-def]
    c = make_client(_failing_app())
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for headers in ({"Accept": browser}, {"Accept": "*/*"}, {}):
        r = c.get("/gone", headers=headers)
        assert r.status_code == 410
        assert r.headers["Content-Type"] == "text/html; charset=UTF-8"
        assert r.text.startswith("<!DOCTYPE html>") and "It moved away." in r.text


def test_error_format_json_is_json_for_everyone(make_client) -> None:  # type: ignore[no-untyped-def]
    app = _failing_app()
    app.config["error.format"] = "json"
    r = make_client(app).get("/gone", headers={"Accept": "text/html"})
    assert r.headers["Content-Type"] == "application/json"
    assert json.loads(r.text) == {"error": "It moved away.", "status": 410}


def test_an_unknown_route_filter_lists_the_known_ones() -> None:
    app = Lcore()
    app.add_route_filter("slug", r"[a-z0-9-]+")
    with pytest.raises(RouterUnknownModeError) as info:
        app.route("/<x:nope>", callback=lambda x: x)
    assert str(info.value) == (
        "Unknown route filter 'nope' in rule '/<x:nope>'; known filters: float, int, path, "
        "re, slug, uuid (add one with app.add_route_filter(name, pattern))"
    )


def test_request_json_on_empty_and_malformed_bodies(make_client) -> None:  # type: ignore[no-untyped-def]
    app = Lcore()

    @app.post("/")
    def echo() -> dict[str, object]:
        return {"got": request.json}

    c = make_client(app)
    # empty body with a JSON type: None, as for a body that is not JSON at all
    assert c.post("/", body="", content_type="application/json").json == {"got": None}
    assert c.post("/", body="a=1", content_type="application/x-www-form-urlencoded").json == {
        "got": None
    }
    # malformed JSON with a JSON type: 400 (a JSON client gets the JSON error body)
    r = c.post(
        "/",
        body="{oops",
        content_type="application/json",
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 400
    assert r.json["status"] == 400 and "JSON" in r.json["error"]
