"""``@app.route(..., status=201)``: the route's default success status, under WSGI and ASGI."""

from __future__ import annotations

import pytest

from lcore import HTTPResponse, Lcore, RouteError, abort, response


def _app() -> Lcore:
    app = Lcore()

    @app.post("/items", status=201)
    def create() -> dict:
        return {"id": 1}

    @app.post("/async-items", status=201)
    async def create_async() -> dict:
        return {"id": 2}

    @app.post("/text", status=202)
    def accepted() -> str:
        return "queued"

    @app.delete("/items/<id:int>", status=204)
    def remove(id: int) -> None:
        return None

    @app.post("/explicit", status=201)
    def explicit() -> str:
        response.status = 200  # the handler chose: it wins, even 200
        return "kept"

    @app.post("/fails", status=201)
    def fails() -> str:
        abort(409, "taken")
        return "never"

    @app.post("/returns-response", status=201)
    def returns_response() -> HTTPResponse:
        return HTTPResponse("own", status=203)

    @app.post("/headers", status=201)
    def headers() -> str:
        response.set_header("X-Done", "yes")
        return "with header"

    @app.post("/plain")
    def plain() -> str:
        return "ok"

    with app.group("/v2", status=201):
        app.post("/things", callback=lambda: {"made": True})

    return app


def test_default_status_applies_when_the_handler_sets_none(make_client):
    c = make_client(_app())
    r = c.post("/items")
    assert r.status_code == 201 and r.status == "201 Created" and r.json == {"id": 1}
    assert c.post("/async-items").status_code == 201
    r = c.post("/text")
    assert r.status_code == 202 and r.text == "queued"
    r = c.delete("/items/3")
    assert r.status_code == 204 and r.body == b""
    r = c.post("/headers")
    assert r.status_code == 201 and r.headers["X-Done"] == "yes"
    assert c.post("/v2/things").status_code == 201
    assert c.post("/plain").status_code == 200


def test_what_the_handler_decides_wins(make_client):
    c = make_client(_app())
    r = c.post("/explicit")
    assert r.status_code == 200 and r.text == "kept"
    assert c.post("/fails").status_code == 409
    r = c.post("/returns-response")
    assert r.status_code == 203 and r.text == "own"


def test_a_hook_status_is_kept_and_middleware_see_the_default(make_client):
    app = _app()
    seen = []

    @app.hook("after_request")
    def after():
        seen.append(response.status_code)

    c = make_client(app)
    assert c.post("/items").status_code == 201
    assert c.post("/plain").status_code == 200
    assert seen == [201, 200]


def test_the_plan_shows_the_default_status():
    app = _app()
    route = next(r for r in app.routes if r.rule == "/items")
    assert route.plan.status == 201
    assert "default status 201" in route.plan.stages()
    assert next(r for r in app.routes if r.rule == "/plain").plan.status is None


@pytest.mark.parametrize("bad", ["201", 99, 600, True, 201.0])
def test_a_bad_status_is_refused_when_the_route_is_added(bad):
    app = Lcore()
    with pytest.raises(RouteError, match="is not an HTTP status code"):
        app.route("/x", callback=lambda: "x", status=bad)


def test_bad_responses_and_security_are_refused():
    app = Lcore()
    with pytest.raises(RouteError, match="responses= key 'nope'"):
        app.route("/x", callback=lambda: "x", responses={"nope": "?"})
    with pytest.raises(RouteError, match="responses= must be a dict"):
        app.route("/x", callback=lambda: "x", responses=[404])
    with pytest.raises(RouteError, match="security='oauth'"):
        app.route("/x", callback=lambda: "x", security="oauth")
    app.route(
        "/ok",
        callback=lambda: "x",
        responses={404: "gone", "4XX": "client error", "default": "other"},
        security=["bearer", "cookie:sid"],
    )
