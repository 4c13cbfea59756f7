"""Lcore 0.0.4 compatibility (issue 14): where 0.0.4 and lcore differed, lcore follows 0.0.4.

Each test names the 0.0.4 behaviour it pins. Tests that make requests run under WSGI and
ASGI (``make_client``); the others check objects that no request touches.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

from lcore import (
    Lcore,
    Middleware,
    MiddlewareHook,
    SecurityHeadersMiddleware,
    ctx,
    validate_request,
)

# --------------------------------------------------------------------------- validate_request(dataclass)


@dataclasses.dataclass
class NewUser:
    name: str
    age: int
    email: Optional[str] = None  # noqa: UP045 - the typing spelling 0.0.4 code uses
    admin: bool = False
    score: float = 0.0


#: What NewUser checks, written as the dict form (defaults -> may be missing).
NEW_USER_DICT = {
    "name": str,
    "age": int,
    "email": Optional[str],  # noqa: UP045 - the typing spelling 0.0.4 code uses
    "admin": Optional[bool],  # noqa: UP045
    "score": Optional[float],  # noqa: UP045
}


@dataclasses.dataclass
class Search:
    q: str
    page: int = 1
    exact: bool = False
    ratio: Optional[float] = None  # noqa: UP045
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Address:
    city: str
    zip: Optional[str] = None  # noqa: UP045


@dataclasses.dataclass
class Customer:
    name: str
    address: Address
    previous: list[Address] = dataclasses.field(default_factory=list)


def _validating_app() -> Lcore:
    app = Lcore()

    @app.post("/users")
    @validate_request(body=NewUser)
    def create_user():
        return {"created": ctx.validated_body}

    @app.post("/ausers")
    @validate_request(body=NewUser)
    async def acreate_user():
        return {"created": ctx.validated_body}

    @app.post("/dict-users")
    @validate_request(body=NEW_USER_DICT)
    def create_user_dict():
        return {"created": ctx.validated_body}

    @app.get("/search")
    @validate_request(query=Search)
    def search():
        return ctx.validated_query

    @app.get("/asearch")
    @validate_request(query=Search)
    async def asearch():
        return ctx.validated_query

    @app.get("/dict-search")
    @validate_request(query={"q": str, "page": int})
    def search_dict():
        return ctx.validated_query

    @app.post("/customers")
    @validate_request(body=Customer)
    def customer():
        return {"ok": True}

    return app


def test_validate_request_dataclass_body(make_client):
    # 0.0.4: ``isinstance(body, dict)`` else the dataclass's fields; missing -> 422.
    c = make_client(_validating_app())
    for path in ("/users", "/ausers"):
        r = c.post(path, json={"name": "ann", "age": 30})
        assert (r.status_code, r.json) == (200, {"created": {"name": "ann", "age": 30}}), path
        full = {"name": "ann", "age": 30, "email": None, "admin": True, "score": 2}
        assert c.post(path, json=full).status_code == 200, path
    for bad in (
        {"name": 5},
        {"age": "30"},
        {"name": "a", "age": 1, "admin": "yes"},
        {"name": "a", "age": 1.5, "score": "high"},
        {"name": "a", "age": 1, "email": 3},
    ):
        r = c.post("/users", json=bad)
        assert r.status_code == 422, bad
        assert r.json["error"] == "Validation failed"
        # the same structured errors as the dict form
        assert r.json == c.post("/dict-users", json=bad).json, bad
        assert r.json == c.post("/ausers", json=bad).json, bad
    r = c.post("/users", json={"name": 5})
    assert r.json["details"] == [
        {"field": "name", "message": "must be str, not number"},
        {"field": "age", "message": "is required"},
    ]
    assert c.post("/users", json=[1]).status_code == 422
    assert c.post("/users", body=b"{nope", content_type="application/json").status_code == 400


def test_validate_request_dataclass_nested_body(make_client):
    c = make_client(_validating_app())
    ok = {
        "name": "a",
        "address": {"city": "Kathmandu"},
        "previous": [{"city": "Pokhara", "zip": "33700"}],
    }
    assert c.post("/customers", json=ok).status_code == 200
    r = c.post("/customers", json={"name": "a", "address": {"city": 5}, "previous": [{}]})
    assert r.status_code == 422
    assert r.json["details"] == [
        {"field": "address.city", "message": "must be str, not number"},
        {"field": "previous[0].city", "message": "is required"},
    ]
    r = c.post("/customers", json={"name": "a", "address": "Kathmandu"})
    assert r.json["details"] == [{"field": "address", "message": "must be an object, not string"}]


def test_validate_request_dataclass_query(make_client):
    # 0.0.4: a missing query field without a default -> 400.
    c = make_client(_validating_app())
    for path in ("/search", "/asearch"):
        r = c.get(path, query_string="q=lamp")
        assert r.json == {"q": "lamp", "page": 1, "exact": False, "ratio": None, "tags": []}, path
        r = c.get(path, query_string="q=lamp&page=3&exact=yes&ratio=0.5&tags=a&tags=b")
        assert r.json == {"q": "lamp", "page": 3, "exact": True, "ratio": 0.5, "tags": ["a", "b"]}
    r = c.get("/search", query_string="page=2")
    assert r.status_code == 400
    assert r.json == c.get("/dict-search", query_string="page=2").json
    assert r.json["details"] == [{"field": "q", "message": "query parameter is required"}]
    r = c.get("/search", query_string="q=x&page=two")
    assert r.status_code == 400
    assert r.json == c.get("/dict-search", query_string="q=x&page=two").json
    assert c.get("/asearch", query_string="q=x&exact=maybe").status_code == 400


def test_validate_request_refuses_other_schemas_at_decoration():
    for schema in (["name"], NewUser(name="a", age=1), str):
        try:
            validate_request(body=schema)
        except TypeError:
            pass
        else:
            raise AssertionError(f"validate_request(body={schema!r}) was accepted")


def test_openapi_describes_dataclass_schemas(make_client):
    from openapi_spec_validator import validate

    app = _validating_app()
    doc = app.openapi()
    validate(doc)

    def deref(schema):  # named dataclass schemas live once in components/schemas
        ref = schema.get("$ref", "")
        return doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema

    body = deref(
        doc["paths"]["/users"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    assert body["title"] == "NewUser" and body["required"] == ["name", "age"]
    assert body["properties"]["age"] == {"type": "integer"}
    params = {p["name"]: p for p in doc["paths"]["/search"]["get"]["parameters"]}
    assert params["q"]["required"] is True and params["q"]["schema"] == {"type": "string"}
    assert params["page"]["required"] is False and params["page"]["schema"] == {"type": "integer"}
    assert params["ratio"]["required"] is False and params["ratio"]["schema"] == {"type": "number"}
    assert set(doc["paths"]["/search"]["get"]["responses"]) == {"200", "400"}
    customer = deref(
        doc["paths"]["/customers"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    assert deref(customer["properties"]["address"])["required"] == ["city"]
    app.enable_docs()
    docs = make_client(app).get("/docs/json").json
    search = next(r for r in docs["routes"] if r["rule"] == "/search")
    assert [(p["name"], p["required"]) for p in search["parameters"]] == [
        ("q", True),
        ("page", False),
        ("exact", False),
        ("ratio", False),
        ("tags", False),
    ]
    users = next(r for r in docs["routes"] if r["rule"] == "/users")
    assert users["body"] == {
        "name": "str",
        "age": "int",
        "email": "Optional[str]",
        "admin": "bool",
        "score": "float",
    }


# --------------------------------------------------------------------------- use(routes=)


class _Tag(Middleware):
    def __init__(self, tag: str, seen: list[str], phase: str = "post") -> None:
        self.tag = tag
        self.seen = seen
        self.phase = phase

    def __call__(self, ctx, next_handler):
        self.seen.append(self.tag)
        return next_handler(ctx)


def test_use_routes_string_is_a_regex_matched_with_re_match(make_client):
    # 0.0.4: ``re.compile(routes)`` then ``pattern.match(path)``.
    seen: list[str] = []
    app = Lcore()
    app.use(_Tag("anchored", seen), routes=r"^/api/")
    app.use(_Tag("star", seen), routes="/api/*")
    app.use(_Tag("pre", seen, phase="pre"), routes=r"^/api/")
    app.use(_Tag("compiled", seen), routes=re.compile(r"/x/\d+$"))
    app.use(_Tag("list", seen), routes=[r"/a$", re.compile(r"/b/")])
    paths = ("/api/d", "/apix", "/api", "/x/12", "/x/a", "/a", "/a/x", "/b/c", "/other")
    for p in paths:
        app.route(p, callback=lambda: "ok")
    c = make_client(app)

    def tags(path: str) -> list[str]:
        seen.clear()
        assert c.get(path).text == "ok"
        return sorted(seen)

    assert tags("/api/d") == ["anchored", "pre", "star"]
    assert tags("/apix") == ["star"]
    assert tags("/api") == ["star"]
    assert tags("/x/12") == ["compiled"]
    assert tags("/x/a") == []
    assert tags("/a") == ["list"]
    assert tags("/a/x") == []
    assert tags("/b/c") == ["list"]
    assert tags("/other") == []


def test_use_routes_rejects_a_bad_regex_at_use_time():
    app = Lcore()
    try:
        app.use(Middleware(), routes="/api/(")
    except ValueError as e:
        assert "regular expression" in str(e)
    else:
        raise AssertionError("a broken routes= pattern was accepted")


# --------------------------------------------------------------------------- use(order=)


def test_use_order_sets_the_middleware_order():
    # 0.0.4: ``if order is not None: middleware.order = order``.
    app = Lcore()
    mw = Middleware()
    assert app.use(mw, order=5) is mw
    assert mw.order == 5
    assert Middleware.order == 50  # the class default is untouched
    assert app.show_middleware()[0]["order"] == 5


# --------------------------------------------------------------------------- Middleware.name


def test_middleware_name_defaults_to_none_and_show_uses_the_class_name():
    # 0.0.4: ``class Middleware: name = None`` (MiddlewareHook too).
    assert Middleware().name is None
    assert MiddlewareHook().name is None

    class Audit(MiddlewareHook):
        pass

    app = Lcore()
    app.use(Audit())
    assert app.show_middleware()[0]["name"] == "Audit"


# --------------------------------------------------------------------------- security headers


def test_security_headers_frame_options_default_is_sameorigin(make_client):
    # 0.0.4: ``'X-Frame-Options': 'SAMEORIGIN'`` in SecurityHeadersMiddleware.DEFAULTS.
    app = Lcore()
    app.use(SecurityHeadersMiddleware())
    app.route("/", callback=lambda: "ok")
    deny = Lcore()
    deny.use(SecurityHeadersMiddleware(x_frame_options="DENY"))
    deny.route("/", callback=lambda: "ok")
    assert make_client(app).get("/").headers["X-Frame-Options"] == "SAMEORIGIN"
    assert make_client(deny).get("/").headers["X-Frame-Options"] == "DENY"


# --------------------------------------------------------------------------- lcore.load


def test_load_follows_dotted_names():
    import os.path

    import lcore

    assert lcore.load("os.path:join") is os.path.join
    assert lcore.load("os.path") is os.path


def test_load_rejects_unsafe_specs_with_an_error_attributeerror_catches():
    # 0.0.4 raised AttributeError for a non-identifier attribute; lcore raises an error
    # that is both that and a ValueError, and refuses dunders and bad module names too.
    import lcore

    unsafe = [
        "os:system('id')",  # a call
        "os:path.join()",
        "os;import sys",  # statement separator in the module part
        "os:path;join",
        "os:path.__class__",  # dunders lead out of the object
        "os:__builtins__",
        "os:path.join.__globals__",
        "os: path",
        "1os:path",
    ]
    for spec in unsafe:
        try:
            lcore.load(spec)
        except AttributeError as e:
            assert isinstance(e, ValueError), spec
        else:
            raise AssertionError(f"load({spec!r}) was not refused")


# --------------------------------------------------------------------------- cached_property


def test_cached_property_is_computed_once_by_concurrent_threads():
    # 0.0.4: ``cached_property`` holds a lock around the computation.
    import threading
    import time

    import lcore

    calls: list[int] = []

    class Thing:
        @lcore.cached_property
        def value(self):
            calls.append(1)
            time.sleep(0.05)  # wide enough for every thread to arrive while it runs
            return object()

    thing = Thing()
    barrier = threading.Barrier(10)
    got: list[object] = []

    def read():
        barrier.wait()
        got.append(thing.value)

    threads = [threading.Thread(target=read) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(got) == 10 and all(v is got[0] for v in got)
    del thing.value  # deleting still means "compute again"
    thing.value  # noqa: B018
    assert len(calls) == 2


# --------------------------------------------------------------------------- private names


def test_private_names_0_0_4_code_imports():
    import subprocess
    import sys

    from lcore import _lscmp, _run_shutdown_hooks, _shutdown_hooks, on_shutdown

    assert _lscmp("secret", "secret") is True
    assert _lscmp(b"secret", "secret") is True
    assert _lscmp("secret", "secreT") is False
    assert _lscmp("secret", 1.5) is False  # 0.0.4: a TypeError is "not equal"

    def hook():
        pass

    on_shutdown(hook)
    try:
        assert hook in _shutdown_hooks
    finally:
        _shutdown_hooks.remove(hook)
    assert callable(_run_shutdown_hooks)
    # Running them for real ends this process's shutdown work, so do it in a child.
    code = (
        "import lcore\n"
        "lcore._shutdown_hooks.append(lambda: print('bye'))\n"
        "lcore._run_shutdown_hooks()\n"
        "print('after')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["bye", "after"]


# --------------------------------------------------------------------------- api_docs()


def test_api_docs_has_routes_and_version(make_client):
    # 0.0.4: ``docs = {'routes': [], 'version': __version__}``.
    import lcore

    app = Lcore()

    @app.route("/items/<id:int>")
    def item(id: int) -> dict:
        """One item."""
        return {"id": id}

    docs = app.api_docs()
    assert docs["version"] == lcore.__version__
    assert [(r["method"], r["rule"]) for r in docs["routes"]] == [("GET", "/items/<id:int>")]
    app.enable_docs()
    served = make_client(app).get("/docs/json").json
    assert served["version"] == lcore.__version__
    assert [r["rule"] for r in served["routes"]] == ["/items/<id:int>"]


# --------------------------------------------------------------------------- inject()


def test_inject_refuses_names_ctx_already_has(make_client):
    # 0.0.4 accepted ``inject('request_id', ...)`` and ``ctx.request_id`` stayed None (its
    # own attribute won); lcore says so at inject time instead.
    import uuid

    app = Lcore()
    for name in ("request_id", "request", "response", "route", "app", "state", "user", "lazy"):
        try:
            app.inject(name, lambda: "dep", lifetime="transient")
        except ValueError as e:
            assert f"ctx.{name}" in str(e)
        else:
            raise AssertionError(f"inject({name!r}) was accepted")
    assert "request_id" not in app.dependencies
    app.inject("trace_id", lambda: str(uuid.uuid4()), lifetime="transient")

    @app.route("/")
    def index():
        from lcore import ctx

        return {"trace": ctx.trace_id, "rid": ctx.request_id}

    body = make_client(app).get("/").json
    assert len(body["trace"]) == 36 and body["rid"] is None


# --------------------------------------------------------------------------- validate_config()


def test_validate_config_returns_the_config_and_converts():
    # 0.0.4: ``return self`` when valid; values are converted and written back; field
    # ``db_url`` reads key ``db.url``.
    import dataclasses

    @dataclasses.dataclass
    class Schema:
        db_url: str
        port: int = 8080
        debug: bool = False

    app = Lcore()
    app.config.load_dict({"db": {"url": "sqlite://"}, "port": "9000", "debug": "yes"})
    assert app.config.validate_config(Schema) is app.config
    assert app.config["port"] == 9000 and app.config["debug"] is True
    flat = Lcore().config.load_dict({"db_url": "x"}).validate_config(Schema)  # chainable
    assert flat["db_url"] == "x"


def test_validate_config_raises_valueerror_listing_every_problem():
    import dataclasses

    @dataclasses.dataclass
    class Schema:
        db_url: str
        secret: str
        port: int = 8080
        ratio: float = 0.5

    config = Lcore().config.load_dict({"port": "eighty", "ratio": "half"})
    try:
        config.validate_config(Schema)
    except ValueError as e:
        lines = str(e).splitlines()
    else:
        raise AssertionError("an invalid config was accepted")
    assert lines[0] == "Config validation errors:"
    assert len(lines) == 5
    assert any("db_url" in x and "db.url" in x and "Missing" in x for x in lines)
    assert any("secret" in x and "Missing" in x for x in lines)
    assert any("port" in x and "int" in x for x in lines)
    assert any("ratio" in x and "float" in x for x in lines)
    assert config["port"] == "eighty"  # nothing half-converted is written for a bad value
    ok, errors = config.check_config(Schema)  # the (ok, errors) form
    assert ok is False and errors == lines[1:]


def test_validate_config_rejects_a_non_dataclass():
    config = Lcore().config
    for schema in (dict, {"debug": bool}, "Schema"):
        try:
            config.validate_config(schema)
        except TypeError:
            pass
        else:
            raise AssertionError(f"validate_config({schema!r}) was accepted")
