"""API docs: ``api_docs()``, ``openapi()`` and the /docs pages, under WSGI and ASGI."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Literal, Optional, TypedDict

from openapi_spec_validator import validate

from lcore import Lcore, validate_request

USER = {"name": str, "age": int, "tags": list[str], "nick": str | None, "address": {"city": str}}


@dataclasses.dataclass
class Item:
    id: int
    name: str
    price: float = 0.0


class Page(TypedDict):
    items: list[int]
    total: int


def _app(**config: object) -> Lcore:
    app = Lcore(**config)

    @app.route("/users/<id:int>")
    def get_user(id):
        """Fetch a user by their numeric ID."""
        return {"id": id}

    @app.route("/items/<id:int>", method="GET")
    def get_item(id: int) -> dict:
        """Retrieve an item by its ID.

        Returns the full item object including metadata."""
        return {"id": id, "name": "Widget"}

    @app.route("/search")
    def search(q: str = "", page: int = 1) -> list[dict[str, int]]:
        """Search items by keyword."""
        return []

    @app.post("/users", name="create_user")
    @validate_request(body=USER, query={"dry_run": bool, "limit": Optional[int]})  # noqa: UP045
    def create_user() -> dict:
        """Create a new user account."""
        return {"status": "created"}

    @app.route("/files/<p:path>")
    def files(p) -> bytes:
        return b""

    @app.route("/f/<x:float>/<u:uuid>")
    def floats(x, u) -> Item:
        return {}

    @app.route("/slug/<s:re:[a-z]+-\\d+>")
    def slug(s) -> Page:
        return {}

    @app.route("/kind/<k>")
    async def kind(k: Literal["a", "b"]) -> None:
        """Async and returns nothing."""

    @app.delete("/users/<id:int>")
    def delete_user(id: int) -> str:
        return "gone"

    sub = Lcore()

    @sub.route("/ping")
    def ping() -> str:
        """Ping the child app."""
        return "pong"

    app.mount("/child", sub)
    return app


# -- api_docs() -------------------------------------------------------------------------------
def test_api_docs_shape_keeps_the_lcore_keys():
    docs = _app().api_docs()
    assert docs["count"] == len(docs["routes"])
    by = {(r["method"], r["rule"]): r for r in docs["routes"]}
    r = by[("GET", "/items/<id:int>")]
    assert set(r) >= {"method", "rule", "name", "docstring", "parameters", "return_type"}
    assert r["docstring"].startswith("Retrieve an item by its ID.\n\nReturns the full item")
    assert r["parameters"] == [{"name": "id", "in": "path", "type": "int", "required": True}]
    assert r["return_type"] == "dict"
    s = by[("GET", "/search")]
    assert s["parameters"] == [
        {"name": "q", "in": "query", "type": "str", "required": False, "default": ""},
        {"name": "page", "in": "query", "type": "int", "required": False, "default": 1},
    ]
    # no annotation: the filter's type; validate_request query fields are listed too
    assert by[("GET", "/users/<id:int>")]["parameters"][0]["type"] == "int"
    names = [p["name"] for p in by[("POST", "/users")]["parameters"]]
    assert names == ["dry_run", "limit"]
    assert by[("POST", "/users")]["name"] == "create_user"
    assert by[("GET", "/kind/<k>")]["async"] is True
    assert ("GET", "/child/ping") in by  # a mounted Lcore app's routes, prefixed
    assert json.loads(_app().api_docs_json()) == json.loads(json.dumps(docs))


def test_docs_routes_hide_themselves():
    app = _app()
    app.enable_docs()
    app.enable_docs("/api-docs")
    rules = [r["rule"] for r in app.api_docs()["routes"]]
    assert not [r for r in rules if "docs" in r]
    assert not [p for p in app.openapi()["paths"] if "docs" in p]


# -- OpenAPI -----------------------------------------------------------------------------------
def test_openapi_document_is_valid_3_1():
    doc = _app().openapi(title="Shop", version="2.1")
    validate(doc)  # openapi-spec-validator picks the 3.1 schema from the document
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {"title": "Shop", "version": "2.1"}


def test_openapi_paths_and_filters():
    doc = _app().openapi()
    paths = doc["paths"]
    assert set(paths) == {
        "/users/{id}",
        "/items/{id}",
        "/search",
        "/users",
        "/files/{p}",
        "/f/{x}/{u}",
        "/slug/{s}",
        "/kind/{k}",
        "/child/ping",
    }
    assert set(paths["/users/{id}"]) == {"get", "delete"}

    def param(path, method="get", i=0):
        return paths[path][method]["parameters"][i]

    assert param("/items/{id}") == {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    assert param("/f/{x}/{u}")["schema"] == {"type": "number"}
    assert param("/f/{x}/{u}", i=1)["schema"] == {"type": "string", "format": "uuid"}
    assert param("/files/{p}")["schema"] == {"type": "string"}
    pattern = param("/slug/{s}")["schema"]["pattern"]
    assert re.fullmatch(pattern, "abc-12") and not re.fullmatch(pattern, "abc")
    assert param("/kind/{k}")["schema"] == {"type": "string"}  # the filter, not the hint, decides


def test_openapi_docstrings_and_operation_ids():
    paths = _app().openapi()["paths"]
    op = paths["/items/{id}"]["get"]
    assert op["summary"] == "Retrieve an item by its ID."
    assert op["description"] == "Returns the full item object including metadata."
    assert "description" not in paths["/users/{id}"]["get"]
    assert "summary" not in paths["/files/{p}"]["get"]
    assert paths["/users"]["post"]["operationId"] == "create_user"
    ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_openapi_query_parameters_from_signature_and_validation():
    paths = _app().openapi()["paths"]
    assert paths["/search"]["get"]["parameters"] == [
        {
            "name": "q",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "default": ""},
        },
        {
            "name": "page",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "default": 1},
        },
    ]
    assert paths["/users"]["post"]["parameters"] == [
        {"name": "dry_run", "in": "query", "required": True, "schema": {"type": "boolean"}},
        {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}},
    ]


def test_openapi_request_body_and_error_responses_from_validate_request():
    doc = _app().openapi()
    op = doc["paths"]["/users"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "nick": {"type": ["string", "null"]},
            "address": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
        "required": ["name", "age", "tags", "address"],
    }
    assert set(op["responses"]) == {"200", "400", "422"}
    ref = op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ValidationError"
    assert "details" in doc["components"]["schemas"]["ValidationError"]["properties"]


def test_openapi_responses_from_return_hints():
    paths = _app().openapi()["paths"]

    def ok(path, method="get"):
        return paths[path][method]["responses"]["200"]

    assert ok("/items/{id}")["content"] == {"application/json": {"schema": {"type": "object"}}}
    assert ok("/search")["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"type": "object", "additionalProperties": {"type": "integer"}},
    }
    assert ok("/child/ping")["content"] == {"text/html": {"schema": {"type": "string"}}}
    assert ok("/files/{p}")["content"] == {"application/octet-stream": {}}
    assert "content" not in ok("/kind/{k}")  # -> None
    assert "content" not in ok("/users/{id}")  # no hint
    # named types live once in components and are referenced
    doc = _app().openapi()
    schemas = doc["components"]["schemas"]
    assert ok("/f/{x}/{u}")["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Item"
    }
    item = schemas["Item"]
    assert item["title"] == "Item" and item["required"] == ["id", "name"]
    assert item["properties"]["price"] == {"type": "number"}
    assert ok("/slug/{s}")["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Page"
    }
    assert schemas["Page"]["properties"]["items"] == {"type": "array", "items": {"type": "integer"}}


def test_openapi_any_route_and_config_info():
    app = Lcore()
    app.config["openapi.title"] = "From config"
    app.config["openapi.description"] = "Described."
    app.route("/any", "ANY", lambda: "x")
    doc = app.openapi()
    validate(doc)
    assert set(doc["paths"]["/any"]) == {"get", "post", "put", "patch", "delete"}
    assert doc["info"]["title"] == "From config" and doc["info"]["description"] == "Described."
    assert "components" not in doc


# -- the served pages, both protocols ----------------------------------------------------------
def test_docs_off_by_default_on_with_debug(make_client):
    c = make_client(_app())
    for path in ("/docs", "/docs/json", "/docs/openapi.json"):
        assert c.get(path).status_code == 404
    app = _app()
    app.config["debug"] = True  # turning debug on later enables them too
    c = make_client(app)
    for path in ("/docs", "/docs/json", "/docs/openapi.json"):
        assert c.get(path).status_code == 200
    assert make_client(_app(debug=True)).get("/docs").status_code == 200


def test_enable_docs_custom_path_serves_three_pages(make_client):
    app = _app()
    app.enable_docs("/api-docs")
    c = make_client(app)
    assert c.get("/docs").status_code == 404
    page = c.get("/api-docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    data = c.get("/api-docs/json")
    assert data.headers["Content-Type"].startswith("application/json")
    assert data.json == json.loads(json.dumps(app.api_docs()))
    spec = c.get("/api-docs/openapi.json")
    assert spec.headers["Content-Type"].startswith("application/json")
    validate(spec.json)
    assert spec.json == json.loads(json.dumps(app.openapi()))
    assert 'href="/api-docs/openapi.json"' in page.text and 'href="/api-docs/json"' in page.text


def test_html_page_lists_every_route_offline(make_client):
    app = _app()
    app.enable_docs()
    html = make_client(app).get("/docs").text
    # offline: no external scripts, styles or fonts
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<style>" in html and "<script>" in html
    articles = re.findall(r'<article class="route" data-method="(\w+)" data-rule="([^"]+)"', html)
    expected = [
        (r["method"], r["rule"].replace("<", "&lt;").replace(">", "&gt;"))
        for r in app.api_docs()["routes"]
    ]
    assert articles == expected
    assert (
        '<span class="m GET">GET</span>' in html and '<span class="m DELETE">DELETE</span>' in html
    )
    assert '<span class="m POST">POST</span>' in html
    assert "Retrieve an item by its ID." in html and "Returns the full item object" in html
    assert (
        "<td><code>page</code></td><td>query</td><td><code>int</code></td><td><code>1</code></td>"
        in html
    )
    assert '<span class="req">required</span>' in html
    assert "Returns <code>list[dict[str, int]]</code>" in html
    assert "JSON body:" in html and "<code>age: int</code>" in html
    assert 'id="filter"' in html


def test_html_is_escaped(make_client):
    app = Lcore()

    @app.route("/x")
    def x():
        """<script>alert(1)</script>"""

    app.enable_docs()
    html = make_client(app).get("/docs").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_docs_json_through_protocols_matches_api_docs(make_client):
    app = _app(debug=True)
    c = make_client(app)
    assert c.get("/docs/json").json["count"] == app.api_docs()["count"]
    validate(c.get("/docs/openapi.json").json)


def test_string_annotations_are_resolved():
    # this module uses ``from __future__ import annotations``: hints are strings
    app = Lcore()

    @app.route("/n/<n:int>")
    def n(n: int, flag: bool = False) -> dict[str, int]:
        return {}

    doc = app.openapi()
    op = doc["paths"]["/n/{n}"]["get"]
    assert op["parameters"][1]["schema"] == {"type": "boolean", "default": False}
    assert op["responses"]["200"]["content"]["application/json"]["schema"][
        "additionalProperties"
    ] == {"type": "integer"}
    validate(doc)
