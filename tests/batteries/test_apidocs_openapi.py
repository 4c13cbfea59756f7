"""The OpenAPI document a client can trust: statuses, schemas, security, tags, ids.

One app uses every feature the document describes; it is validated with
openapi-spec-validator, and requests made to it (under WSGI and ASGI) answer only
statuses its operations declare.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from typing import TypedDict

import pytest
from openapi_spec_validator import validate

from lcore import (
    BodyLimitMiddleware,
    CSRFMiddleware,
    EventStream,
    HTTPError,
    Lcore,
    Middleware,
    TimeoutMiddleware,
    abort,
    auth_basic,
    rate_limit,
    redirect,
    request,
    validate_request,
)


@dataclasses.dataclass
class Item:
    """An item in the shop."""

    id: int
    name: str
    price: float = 0.0


@dataclasses.dataclass
class NewItem:
    name: str
    price: float
    note: str | None = None


@dataclasses.dataclass
class Node:
    name: str
    children: list[Node] = dataclasses.field(default_factory=list)


class Stats(TypedDict):
    count: int
    items: list[Item]


def _guard(func):
    """A user's own guard decorator that says what it answers."""

    def wrapper(*a, **ka):
        if request.get_header("X-Key") != "k":
            abort(403, "Wrong key")
        return func(*a, **ka)

    wrapper.__wrapped__ = func
    wrapper.__lcore_openapi__ = {"responses": {403: "Wrong or missing X-Key"}}
    return wrapper


def _need_flag() -> None:
    """An app function a handler calls: its literal aborts count for the handler."""
    if not request.query.get("flag"):
        abort(412, "Set ?flag")


class TokenGuard(Middleware):
    """A user's middleware guard: bearer token on /admin (declared for the docs)."""

    name = "token_guard"

    def __call__(self, ctx, next_handler):
        if (
            ctx.request.path.startswith("/admin")
            and ctx.request.get_header("Authorization") != "Bearer t"
        ):
            ctx.response.status = 401
            return {"error": "token"}
        return next_handler(ctx)

    def describe_openapi(self, path, method):
        if path.startswith("/admin"):
            return {"security": ["bearer"], "responses": {401: "Missing or wrong token"}}
        return None


def build_app() -> Lcore:
    app = Lcore()
    app.config["openapi.title"] = "Every feature"

    @app.post("/items", status=201, responses={409: "Name taken"})
    @validate_request(body=NewItem)
    def create_item() -> Item:
        """Create an item."""
        data = request.json
        if data["name"] == "taken":
            abort(409, "Name taken")
        return dataclasses.asdict(Item(1, data["name"], data["price"]))  # type: ignore[return-value]

    @app.get("/items/<id:int>")
    def get_item(id: int) -> Item:
        """Fetch one item."""
        if id != 1:
            abort(404, "No such item")
        return dataclasses.asdict(Item(1, "a"))  # type: ignore[return-value]

    @app.delete("/items/<id:int>", status=204)
    def delete_item(id: int) -> None:
        """Delete an item."""

    @app.get("/search")
    @rate_limit(2, per=60)
    @validate_request(query={"q": str, "limit": int | None})
    def search() -> list[Item]:
        return []

    @app.get("/stats")
    def stats() -> Stats:
        return {"count": 0, "items": []}

    @app.get("/by-name")
    def by_name() -> dict[str, Item]:
        return {}

    @app.get("/tree")
    def tree() -> Node:
        return {"name": "root", "children": []}  # type: ignore[return-value]

    @app.get("/basic")
    @auth_basic(lambda u, p: (u, p) == ("ann", "pw"), text="Sign in")
    def basic() -> str:
        return "hi " + request.auth[0]

    @app.get("/me", security="cookie:sid", responses={401: "No session"})
    def me() -> dict:
        if not request.get_cookie("sid"):
            abort(401, "No session")
        return {}

    @app.get("/keyed")
    @_guard
    def keyed() -> str:
        return "ok"

    @app.get("/events")
    def events() -> EventStream:
        return EventStream(iter(()))

    @app.get("/lines")
    def lines() -> Iterator[str]:
        yield "a"

    @app.route("/anything", "ANY")
    def anything() -> str:
        return "any"

    @app.get(
        "/typed-responses",
        responses={
            202: ("Queued for later", Item),
            404: {"description": "Gone for good"},
            418: "I'm a teapot",
            "default": "Something else",
        },
    )
    def typed_responses() -> str:
        return "x"

    @app.get("/flagged")
    def flagged() -> str:
        _need_flag()
        if request.query.get("flag") == "no":
            raise HTTPError(451, "Not here")
        return "ok"

    @app.get("/moved")
    def moved() -> None:
        redirect("/stats", 301)

    @app.get("/see-other")
    def see_other() -> None:
        redirect("/stats")

    @app.get("/admin/report")
    def report() -> dict:
        return {}

    with app.group("/api", security="bearer"):

        @app.get("/orders")
        def list_orders() -> list[Item]:
            return []

        @app.get("/orders/public", security=[])
        def public_orders() -> list[Item]:
            return []

    with app.group("/v2", tags=["version two"]):
        app.get("/ping", callback=lambda: "pong", name="v2_ping")

    child = Lcore()

    @child.get("/items/<id:int>", name="get_item")
    def child_item(id: int) -> Item:
        return dataclasses.asdict(Item(id, "c"))  # type: ignore[return-value]

    @child.post("/upload", name="upload")
    def upload() -> dict:
        return {"size": len(request.body.read())}

    app.mount("/shop", child)
    other = Lcore()
    other.get("/ping", callback=lambda: "pong", name="ping")
    app.mount("/other", other, tags="misc")

    app.use(BodyLimitMiddleware(max_size=64))
    app.use(CSRFMiddleware(secret="s" * 32), routes="/csrf/*")
    app.use(TimeoutMiddleware(timeout=5), routes="/slow")
    app.use(TokenGuard())

    @app.post("/csrf/form")
    def csrf_form() -> str:
        return "ok"

    @app.get("/slow")
    def slow() -> str:
        return "done"

    return app


@pytest.fixture(scope="module")
def doc() -> dict:
    d = build_app().openapi()
    validate(d)  # openapi-spec-validator (3.1 schema picked from the document)
    return d


def _codes(doc: dict, path: str, method: str = "get") -> set[str]:
    return set(doc["paths"][path][method]["responses"])


def test_the_document_validates_and_ids_are_unique(doc):
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    # a name used by the app and a mounted app is told apart by the mount's tag
    assert doc["paths"]["/items/{id}"]["get"]["operationId"] == "get_item_get"
    assert doc["paths"]["/shop/items/{id}"]["get"]["operationId"] == "get_item"
    json.dumps(doc)  # plain JSON all the way down


def test_declared_success_status_and_other_responses(doc):
    assert _codes(doc, "/items", "post") == {"201", "400", "409", "413", "422"}
    created = doc["paths"]["/items"]["post"]["responses"]["201"]
    assert created["description"] == "Created"
    assert created["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}
    assert doc["paths"]["/items"]["post"]["responses"]["409"]["description"] == "Name taken"
    deleted = doc["paths"]["/items/{id}"]["delete"]["responses"]
    assert set(deleted) == {"204", "404"} and "content" not in deleted["204"]
    typed = doc["paths"]["/typed-responses"]["get"]["responses"]
    assert typed["202"]["description"] == "Queued for later"
    assert typed["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Item"
    }
    assert typed["404"] == {"description": "Gone for good"}
    assert typed["418"]["description"] == "I'm a teapot"
    assert typed["418"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert list(typed)[-1] == "default"


def test_inferred_statuses(doc):
    assert _codes(doc, "/items/{id}") == {"200", "404"}  # path parameters: 404
    assert _codes(doc, "/search") == {"200", "400", "429"}  # validate_request query, rate_limit
    assert doc["paths"]["/search"]["get"]["responses"]["429"]["headers"]["Retry-After"][
        "schema"
    ] == {"type": "integer"}
    assert _codes(doc, "/basic") == {"200", "401"}
    assert doc["paths"]["/basic"]["get"]["responses"]["401"]["description"] == "Sign in"
    assert _codes(doc, "/keyed") == {"200", "403"}  # the decorator's own declaration
    assert _codes(doc, "/csrf/form", "post") == {"200", "403", "413"}  # CSRF on unsafe methods
    assert _codes(doc, "/slow") == {"200", "503"}  # TimeoutMiddleware routes='/slow'
    assert _codes(doc, "/stats") == {"200"}  # GET: no body, no 413
    assert _codes(doc, "/shop/upload", "post") == {"200", "413"}  # the parent's limit covers mounts
    assert _codes(doc, "/admin/report") == {"200", "401"}  # the middleware's describe_openapi
    for item in doc["paths"].values():
        for op in item.values():
            assert "405" not in op["responses"]


def test_statuses_the_handler_answers_itself(doc):
    flagged = doc["paths"]["/flagged"]["get"]["responses"]
    assert set(flagged) == {"200", "412", "451"}
    assert (
        flagged["412"]["description"] == "Set ?flag" and flagged["451"]["description"] == "Not here"
    )
    assert _codes(doc, "/moved") == {"200", "301"}
    assert "Location" in doc["paths"]["/moved"]["get"]["responses"]["301"]["headers"]
    assert _codes(doc, "/see-other") == {"200", "303"}


def test_request_and_response_schemas(doc):
    schemas = doc["components"]["schemas"]
    body = doc["paths"]["/items"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/NewItem"}
    assert schemas["NewItem"]["required"] == ["name", "price"]
    assert schemas["NewItem"]["properties"]["note"] == {"type": ["string", "null"]}
    assert schemas["Item"]["description"] == "An item in the shop."

    def ok(path):
        return doc["paths"][path]["get"]["responses"]["200"]["content"]

    assert ok("/search")["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Item"},
    }
    assert ok("/stats")["application/json"]["schema"] == {"$ref": "#/components/schemas/Stats"}
    assert schemas["Stats"]["properties"]["items"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Item"},
    }
    assert ok("/by-name")["application/json"]["schema"] == {
        "type": "object",
        "additionalProperties": {"$ref": "#/components/schemas/Item"},
    }
    assert schemas["Node"]["properties"]["children"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Node"},
    }
    assert set(ok("/events")) == {"text/event-stream"}
    assert set(ok("/lines")) == {"text/plain"}
    assert set(ok("/basic")) == {"text/html"}


def test_security_schemes_on_guarded_operations(doc):
    schemes = doc["components"]["securitySchemes"]
    assert schemes == {
        "basicAuth": {"type": "http", "scheme": "basic"},
        "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "sid"},
        "bearerAuth": {"type": "http", "scheme": "bearer"},
    }
    paths = doc["paths"]
    assert paths["/basic"]["get"]["security"] == [{"basicAuth": []}]
    assert paths["/me"]["get"]["security"] == [{"cookieAuth": []}]
    assert paths["/me"]["get"]["responses"]["401"]["description"] == "No session"
    assert paths["/api/orders"]["get"]["security"] == [{"bearerAuth": []}]
    assert "401" in paths["/api/orders"]["get"]["responses"]
    assert paths["/api/orders/public"]["get"]["security"] == []  # made public again
    assert "401" not in paths["/api/orders/public"]["get"]["responses"]
    assert paths["/admin/report"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in paths["/stats"]["get"]


def test_tags_from_groups_and_mounts(doc):
    paths = doc["paths"]
    assert paths["/api/orders"]["get"]["tags"] == ["api"]
    assert paths["/v2/ping"]["get"]["tags"] == ["version two"]
    assert paths["/shop/items/{id}"]["get"]["tags"] == ["shop"]
    assert paths["/other/ping"]["get"]["tags"] == ["misc"]
    assert "tags" not in paths["/stats"]["get"]
    assert [t["name"] for t in doc["tags"]] == ["api", "version two", "shop", "misc"]
    assert set(paths["/anything"]) == {"get", "post", "put", "patch", "delete"}


def _basic(user: str, pw: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}


def test_every_answer_is_a_declared_status(make_client, doc):
    """Requests that hit each kind of outcome answer only what the document declares."""
    c = make_client(build_app())
    calls = [
        ("post", "/items", {"json": {"name": "a", "price": 1.5}}, 201),
        ("post", "/items", {"json": {"name": "taken", "price": 1.5}}, 409),
        ("post", "/items", {"json": {"name": 1}}, 422),
        ("post", "/items", {"body": b"{nope", "content_type": "application/json"}, 400),
        ("post", "/items", {"json": {"name": "x" * 100, "price": 1}}, 413),
        ("get", "/items/1", {}, 200),
        ("get", "/items/2", {}, 404),
        ("delete", "/items/2", {}, 204),
        ("get", "/search", {}, 400),
        ("get", "/search", {"query_string": "q=a"}, 200),
        ("get", "/search", {"query_string": "q=a"}, 429),
        ("get", "/basic", {}, 401),
        ("get", "/basic", {"headers": _basic("ann", "pw")}, 200),
        ("get", "/me", {}, 401),
        ("get", "/keyed", {}, 403),
        ("get", "/admin/report", {}, 401),
        ("get", "/admin/report", {"headers": {"Authorization": "Bearer t"}}, 200),
        ("post", "/csrf/form", {}, 403),
        ("get", "/shop/items/3", {}, 200),
        ("post", "/shop/upload", {"body": b"x" * 100}, 413),
        ("get", "/flagged", {}, 412),
        ("get", "/flagged", {"query_string": "flag=no"}, 451),
        ("get", "/flagged", {"query_string": "flag=yes"}, 200),
        ("get", "/moved", {}, 301),
        ("get", "/see-other", {}, 303),
    ]
    for method, path, kw, expected in calls:
        r = c.request(method.upper(), path, **kw)
        assert r.status_code == expected, (method, path, r.status_code, r.text[:200])
        declared = doc["paths"][
            path.replace("/1", "/{id}").replace("/2", "/{id}").replace("/3", "/{id}")
        ][method]
        assert str(r.status_code) in declared["responses"], (method, path, r.status_code)
