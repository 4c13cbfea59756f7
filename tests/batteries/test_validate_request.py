"""validate_request: JSON body and query schemas, structured errors, both handler kinds."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from lcore import Lcore, ctx, rate_limit, request, validate_request

OptionalInt = Optional[int]  # noqa: UP045 - the typing spelling must work too
OptionalAny = Optional[Any]  # noqa: UP045

USER = {"name": str, "email": str, "age": int}


def _app():
    app = Lcore()

    @app.post("/users")
    @validate_request(body=USER)
    def create_user():
        return {"created": True, "name": request.json["name"]}

    @app.post("/ausers")
    @validate_request(body=USER)
    async def acreate_user():
        return {"created": True, "name": ctx.validated_body["name"]}

    @app.get("/search")
    @validate_request(query={"q": str, "page": int, "ratio": float, "exact": bool})
    def search():
        return ctx.validated_query

    @app.get("/asearch")
    @validate_request(
        query={"q": str, "page": OptionalInt, "tags": list[str], "ids": list[int] | None}
    )
    async def asearch():
        return ctx.validated_query

    @app.post("/items")
    @validate_request(
        body={
            "name": str,
            "price": float,
            "note": str | None,
            "tags": list[str],
            "meta": dict,
            "dims": {"w": int, "h": int},
            "extra": OptionalAny,
        },
        query={"category": str},
    )
    def create_item():
        return {"ok": True}

    return app


@pytest.mark.parametrize("path", ["/users", "/ausers"])
def test_valid_body(make_client, path):
    r = make_client(_app()).post(path, json={"name": "a", "email": "a@x", "age": 3, "more": 1})
    assert r.status_code == 200
    assert r.json == {"created": True, "name": "a"}


@pytest.mark.parametrize("path", ["/users", "/ausers"])
def test_body_errors_are_422_with_details(make_client, path):
    c = make_client(_app())
    r = c.post(path, json={"name": 5, "age": "3"})
    assert r.status_code == 422
    assert r.headers["Content-Type"] == "application/json"
    assert r.json == {
        "error": "Validation failed",
        "details": [
            {"field": "name", "message": "must be str, not number"},
            {"field": "email", "message": "is required"},
            {"field": "age", "message": "must be int, not string"},
        ],
    }


@pytest.mark.parametrize("path", ["/users", "/ausers"])
def test_invalid_json_is_400(make_client, path):
    r = make_client(_app()).post(path, body=b"{not json", content_type="application/json")
    assert r.status_code == 400
    assert r.json["error"] == "Invalid JSON"
    assert r.json["details"][0]["field"] == "body"


@pytest.mark.parametrize("path", ["/users", "/ausers"])
def test_json_nested_too_deep_is_400_invalid_json(make_client, path):
    # The decoder's RecursionError was a 500 with a traceback.
    c = make_client(_app())
    limit = 128  # BaseRequest.MAX_JSON_DEPTH
    user = '"name": "a", "email": "e", "age": 1'
    for body in (
        "[" * 100_000,
        '{"a":' * 50_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        "{" + user + ', "x":' + "[" * limit + "]" * limit + "}",
    ):
        r = c.post(path, body=body, content_type="application/json")
        assert r.status_code == 400, (body[:20], r.status_code)
        assert r.json["error"] == "Invalid JSON"
        assert r.json["details"][0]["field"] == "body"
    at_limit = "{" + user + ', "x":' + "[" * (limit - 1) + "]" * (limit - 1) + "}"
    r = c.post(path, body=at_limit, content_type="application/json")
    assert r.status_code == 200 and r.json["created"] is True


@pytest.mark.parametrize("body", [b"", b"[1, 2]", b"42"])
def test_missing_or_non_object_body_is_422(make_client, body):
    r = make_client(_app()).post("/users", body=body, content_type="application/json")
    assert r.status_code == 422
    assert r.json["details"][0]["field"] == "body"


def test_bool_is_not_an_int(make_client):
    r = make_client(_app()).post("/users", json={"name": "a", "email": "e", "age": True})
    assert r.status_code == 422
    assert r.json["details"] == [{"field": "age", "message": "must be int, not boolean"}]


def test_query_coercion(make_client):
    c = make_client(_app())
    r = c.get("/search", query_string="q=hi&page=2&ratio=0.5&exact=yes")
    assert r.status_code == 200
    assert r.json == {"q": "hi", "page": 2, "ratio": 0.5, "exact": True}
    assert c.get("/search", query_string="q=hi&page=2&ratio=1&exact=0").json["exact"] is False


def test_missing_query_param_is_400(make_client):
    r = make_client(_app()).get("/search", query_string="q=hi&ratio=1&exact=true")
    assert r.status_code == 400
    assert r.json == {
        "error": "Invalid query parameters",
        "details": [{"field": "page", "message": "query parameter is required"}],
    }


@pytest.mark.parametrize(
    ("qs", "field"), [("page=x", "page"), ("ratio=nan", "ratio"), ("exact=maybe", "exact")]
)
def test_bad_query_values_are_400(make_client, qs, field):
    base = {"q": "hi", "page": "1", "ratio": "1", "exact": "true"}
    k, v = qs.split("=")
    base[k] = v
    r = make_client(_app()).get("/search", query_string=base)
    assert r.status_code == 400
    assert [d["field"] for d in r.json["details"]] == [field]


def test_optional_and_list_query(make_client):
    c = make_client(_app())
    r = c.get("/asearch", query_string="q=x&tags=a&tags=b&ids=1&ids=2")
    assert r.json == {"q": "x", "page": None, "tags": ["a", "b"], "ids": [1, 2]}
    r = c.get("/asearch", query_string="q=x&page=3&tags=a")
    assert r.json == {"q": "x", "page": 3, "tags": ["a"]}
    r = c.get("/asearch", query_string="q=x")
    assert r.status_code == 400 and r.json["details"][0]["field"] == "tags"
    r = c.get("/asearch", query_string="q=x&tags=a&ids=z")
    assert r.status_code == 400 and r.json["details"][0]["field"] == "ids"


def test_nested_optional_and_container_types(make_client):
    c = make_client(_app())
    good = {
        "name": "w",
        "price": 3,
        "note": None,
        "tags": ["a"],
        "meta": {},
        "dims": {"w": 1, "h": 2},
    }
    assert c.post("/items?category=x", json=good).status_code == 200
    r = c.post("/items?category=x", json={**good, "tags": ["a", 2], "dims": {"w": "1"}, "meta": []})
    assert r.status_code == 422
    assert r.json["details"] == [
        {"field": "tags[1]", "message": "must be str, not number"},
        {"field": "meta", "message": "must be dict, not array"},
        {"field": "dims.w", "message": "must be int, not string"},
        {"field": "dims.h", "message": "is required"},
    ]
    r = c.post("/items", json=good)  # query checked first
    assert r.status_code == 400


def test_schema_is_exposed_for_api_docs():
    app = _app()
    by_rule = {r.rule: r for r in app.routes}
    assert by_rule["/users"].callback.__lcore_validation__ == {"body": USER, "query": None}
    assert by_rule["/ausers"].callback.__lcore_validation__["body"] is USER
    assert by_rule["/search"].callback.__lcore_validation__["query"]["page"] is int


def test_stacks_with_rate_limit(make_client):
    app = Lcore()

    @app.post("/login")
    @rate_limit(2, per=60)
    @validate_request(body={"user": str})
    def login():
        return "ok"

    c = make_client(app)
    assert c.post("/login", json={"user": "a"}).status_code == 200
    assert c.post("/login", json={}).status_code == 422
    assert c.post("/login", json={"user": "a"}).status_code == 429
    route = app.routes[0]
    assert route.callback.__lcore_validation__["body"] == {"user": str}


def test_schema_must_be_a_dict():
    with pytest.raises(TypeError):
        validate_request(body=["name"])
