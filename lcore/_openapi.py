"""The OpenAPI 3.1 document of an app: operations, statuses, schemas, security, tags.

Every status an operation lists is one the app can really answer with:

- the success status: the route's ``status=`` (``@app.route(..., status=201)``), else 200,
  with a schema from the handler's return annotation;
- ``responses={409: ...}`` on the route (or its group or mount) declares others;
- inferred: 404 for a route with path parameters; 400/422 from ``@validate_request``;
  429 from ``@rate_limit``; 401 from ``@auth_basic`` and any ``security=``; 413 when a
  body limit applies (``BodyLimitMiddleware``, ``request.max_body``) to a method with a
  body; 403 from ``CSRFMiddleware`` on unsafe methods; 503 from ``TimeoutMiddleware``;
  whatever a decorator (``__lcore_openapi__``) or a middleware (``describe_openapi``)
  declares. 405 is never listed: it belongs to a path, not to an operation.
"""

from __future__ import annotations

import ast
import collections.abc
import inspect
import re
import textwrap
import typing
from typing import Any

from ._jsonschema import Schemas, optional, resolve_hints, schema_fields
from .apidocs import _JSON_SCALARS, _path_params, _signature, _split_doc, _validation, _walk
from .response import HTTP_CODES

__all__ = ["build_openapi", "route_declarations"]

_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: What an ``ANY`` route is listed under.
_ANY_METHODS = ("get", "post", "put", "patch", "delete")
_BODY_METHODS = frozenset({"post", "put", "patch"})
_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    "required": ["error"],
}
_VALIDATION_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "required": ["error"],
}
_SCHEMES = {
    "bearer": ("bearerAuth", {"type": "http", "scheme": "bearer"}),
    "basic": ("basicAuth", {"type": "http", "scheme": "basic"}),
}
_RESPONSE_KEYS = frozenset({"description", "headers", "content", "links"})
_STREAMS = (
    collections.abc.Iterator,
    collections.abc.AsyncIterator,
    collections.abc.Generator,
    collections.abc.AsyncGenerator,
    collections.abc.AsyncIterable,
)


def _reason(code: str) -> str:
    return HTTP_CODES.get(int(code), "Response") if code.isdigit() else "Response"


def _path(route: Any, prefix: str) -> str:
    out, anon = [], 0
    for text, key, mode, _conf in route.app.router._parse(route.rule):
        if mode is None:
            out.append(text.replace("\\<", "<"))
        else:
            if not key:
                anon += 1
                key = f"anon{anon}"
            out.append("{" + key + "}")
    return prefix + "".join(out)


def _path_schema(mode: str, conf: str | None) -> tuple[dict[str, Any], str | None]:
    """Schema and description of a path parameter from its filter."""
    if mode == "int":
        return {"type": "integer"}, None
    if mode == "float":
        return {"type": "number"}, None
    if mode == "uuid":
        return {"type": "string", "format": "uuid"}, None
    if mode == "path":
        return {"type": "string"}, "May contain '/'."
    if mode == "re" and conf:
        # Only patterns that mean the same in ECMA-262 (JSON Schema's dialect).
        if not re.search(r"\(\?[P<#=!aiLmsux]|\\[AZz]", conf):
            return {"type": "string", "pattern": f"^(?:{conf})$"}, None
        return {"type": "string"}, f"Matches the regular expression {conf}."
    return {"type": "string"}, None


def _marks(route: Any) -> list[dict[str, Any]]:
    """Declarations on the route's decorator chain, outermost first: ``__lcore_openapi__``
    (``{"security": [...], "responses": {...}}``) and ``@rate_limit``'s 429."""
    out, func, seen = [], route.callback, 0
    while func is not None and seen < 50:
        mark = getattr(func, "__lcore_openapi__", None)
        if isinstance(mark, dict):
            out.append(mark)
        limit = getattr(func, "__lcore_rate_limit__", None)
        if isinstance(limit, dict):
            out.append(
                {"responses": {429: f"More than {limit['limit']} requests in {limit['per']} s"}}
            )
        func, seen = getattr(func, "__wrapped__", None), seen + 1
    return out


def _calls(func: Any) -> tuple[list[tuple[int, str | None]], list[str]]:
    """``(literal statuses, names called)`` of a function's own source: ``abort(4xx/5xx)``,
    ``HTTPError(4xx/5xx)`` and ``redirect(url, 3xx)`` (303 when no code is given)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return [], []
    aborts: list[tuple[int, str | None]] = []
    names: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.attr
            if isinstance(node.func, ast.Attribute)
            else getattr(node.func, "id", None)
        )
        if name in ("abort", "HTTPError") and node.args:
            code, text = node.args[0], node.args[1] if len(node.args) > 1 else None
            if (
                isinstance(code, ast.Constant)
                and isinstance(code.value, int)
                and not isinstance(code.value, bool)
                and 400 <= code.value <= 599
            ):
                msg = (
                    text.value
                    if isinstance(text, ast.Constant) and isinstance(text.value, str)
                    else None
                )
                aborts.append((code.value, msg))
        elif name == "redirect" and node.args:
            given = (
                node.args[1]
                if len(node.args) > 1
                else next((k.value for k in node.keywords if k.arg == "code"), None)
            )
            if given is None:
                aborts.append((303, "See Other (the Location header; 302 for HTTP/1.0)"))
            elif (
                isinstance(given, ast.Constant)
                and isinstance(given.value, int)
                and 300 <= given.value <= 399
            ):
                aborts.append((given.value, "Redirect (see the Location header)"))
        if isinstance(node.func, ast.Name):
            names.append(node.func.id)
    return aborts, names


def _raised(func: Any) -> dict[str, str]:
    """Statuses the handler answers with on its own: ``abort(404, "...")`` and ``raise
    HTTPError(409, "...")`` with a literal code, in its body or in a function of the app
    it calls directly (a guard such as ``require_admin()``); the messages describe them."""
    aborts, names = _calls(func)
    scope = getattr(func, "__globals__", {})
    for name in dict.fromkeys(names):
        helper = scope.get(name)
        if inspect.isfunction(helper) and not str(helper.__module__).startswith("lcore"):
            aborts += _calls(helper)[0]
    found: dict[str, list[str]] = {}
    for code, msg in aborts:
        messages = found.setdefault(str(code), [])
        if msg and msg not in messages:
            messages.append(msg)
    return {code: "; ".join(msgs) or _reason(code) for code, msgs in found.items()}


def _tags(route: Any, chain: tuple[Any, ...]) -> list[str]:
    """Route/group ``tags=``, else the group's prefix, else the innermost mount's."""
    tags = route.config.get("tags")
    if tags:
        return [tags] if isinstance(tags, str) else list(tags)
    group = route.config.get("_lcore_group")
    if group and group.strip("/"):
        return [group.strip("/").rsplit("/", 1)[-1]]
    for _app, mount in reversed(chain):
        tags = mount.config.get("tags")
        if tags:
            return [tags] if isinstance(tags, str) else list(tags)
        return [mount._mount[2].strip("/").rsplit("/", 1)[-1]]
    return []


def _middleware(route: Any, chain: tuple[Any, ...], path: str) -> list[Any]:
    """The middleware that run for requests to ``route`` (parents' ones included)."""
    out = []
    hops = list(chain) + [(route.app, route)]
    for app, target in hops:
        mw = app.middleware
        post, _filtered = mw.post_for_route(target)
        for e in tuple(mw.pre) + post:
            if e.matcher is None or e.matcher(path):
                out.append(e.mw)
    return out


def _middleware_declarations(
    mw: Any, path: str, method: str, has_body: bool
) -> dict[str, Any] | None:
    """What a middleware adds to an operation: the built-in ones, then ``describe_openapi``."""
    from .middleware import BodyLimitMiddleware, CSRFMiddleware, TimeoutMiddleware

    if isinstance(mw, BodyLimitMiddleware):
        if has_body:
            return {"responses": {413: f"Request body larger than {mw.max_size} bytes"}}
        return None
    if isinstance(mw, CSRFMiddleware):
        if method.upper() not in {m.upper() for m in mw.safe_methods}:
            return {"responses": {403: "Missing or invalid CSRF token"}}
        return None
    if isinstance(mw, TimeoutMiddleware):
        return {"responses": {503: f"The handler took longer than {mw.timeout} s"}}
    describe = getattr(mw, "describe_openapi", None)
    if callable(describe):
        found = describe(path, method.upper())
        return found if isinstance(found, dict) else None
    return None


def route_declarations(
    route: Any, chain: tuple[Any, ...], path: str, method: str, has_body: bool
) -> tuple[list[str] | None, dict[Any, Any]]:
    """``(security, responses)`` declared for an operation, most specific last.

    Middleware, then decorators (``__lcore_openapi__``), then mounts' and the route's
    own ``security=``/``responses=`` config; a later ``security`` replaces an earlier one
    (``security=[]`` makes a route public again).
    """
    found: list[dict[str, Any]] = []
    for mw in _middleware(route, chain, path):
        d = _middleware_declarations(mw, path, method, has_body)
        if d:
            found.append(d)
    found += list(reversed(_marks(route)))
    found += [m.config for _app, m in chain] + [route.config]
    if has_body and route.app.config.get("request.max_body"):
        found.insert(0, {"responses": {413: "Request body too large"}})
    security: list[str] | None = None
    responses: dict[Any, Any] = {}
    for d in found:
        if d.get("security") is not None:
            sec = d["security"]
            security = [sec] if isinstance(sec, str) else list(sec)
        for code, value in (d.get("responses") or {}).items():
            responses[str(code)] = value
    return security, responses


class _Builder:
    """One document being built: schemas, security schemes, operation ids."""

    def __init__(self) -> None:
        self.schemas = Schemas()
        self.schemes: dict[str, dict[str, Any]] = {}
        self.op_ids: set[str] = set()

    # -- pieces ---------------------------------------------------------------------------
    def scheme(self, spec: str) -> str:
        kind, _, name = spec.partition(":")
        if kind in _SCHEMES:
            key, scheme = _SCHEMES[kind]
        else:  # cookie[:name]
            cookie = name or "session"
            key = "cookieAuth"
            if key in self.schemes and self.schemes[key]["name"] != cookie:
                key = "cookieAuth_" + re.sub(r"\W", "_", cookie)
            scheme = {"type": "apiKey", "in": "cookie", "name": cookie}
        self.schemes.setdefault(key, scheme)
        return key

    def error(self, description: str, app: Any) -> dict[str, Any]:
        content: dict[str, Any] = {
            "application/json": {"schema": self.schemas.add("Error", _ERROR_SCHEMA)}
        }
        if app.config.get("error.format", "html") != "json":
            content["text/html"] = {"schema": {"type": "string"}}
        return {"description": description, "content": content}

    def validation(self, description: str) -> dict[str, Any]:
        ref = self.schemas.add("ValidationError", _VALIDATION_SCHEMA)
        return {"description": description, "content": {"application/json": {"schema": ref}}}

    def success(self, annotation: Any, code: str) -> dict[str, Any]:
        desc = "Successful response" if code == "200" else _reason(code)
        if code in ("204", "304"):
            return {"description": _reason(code)}
        if annotation is inspect.Signature.empty:
            return {"description": desc}
        if annotation is None or annotation is type(None):
            return {"description": "Empty response" if code == "200" else desc}
        origin = typing.get_origin(annotation) or annotation
        if origin is str:
            return {"description": desc, "content": {"text/html": {"schema": {"type": "string"}}}}
        if origin is bytes:
            return {"description": desc, "content": {"application/octet-stream": {}}}
        if origin in _STREAMS:
            return {
                "description": desc + " (streamed)",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        if isinstance(origin, type):
            from .response import BaseResponse
            from .sse import EventStream

            if issubclass(origin, EventStream):
                return {"description": "Server-sent events", "content": {"text/event-stream": {}}}
            if issubclass(origin, BaseResponse):
                return {"description": desc}
        schema = self.schemas.of(annotation)
        if not schema:
            return {"description": desc}
        return {"description": desc, "content": {"application/json": {"schema": schema}}}

    def declared(self, code: str, value: Any, app: Any) -> dict[str, Any]:
        """A ``responses=`` value: a description, a type, (description, type) or a dict."""
        reason = _reason(code)
        error = code[:1] in "45"
        if value is None:
            return self.error(reason, app) if error else {"description": reason}
        if isinstance(value, str):
            return self.error(value, app) if error else {"description": value}
        if (
            isinstance(value, dict)
            and isinstance(value.get("description"), str)
            and set(value) <= _RESPONSE_KEYS
        ):
            return dict(value)  # an OpenAPI response object, as written
        desc, tp = (
            value
            if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)
            else (reason, value)
        )
        schema = self.schemas.of(tp)
        out: dict[str, Any] = {"description": desc}
        if schema:
            out["content"] = {"application/json": {"schema": schema}}
        return out

    def operation_id(self, route: Any, func: Any, method: str, tags: list[str]) -> str:
        base = route.name or f"{getattr(func, '__name__', 'handler')}_{method}"
        candidates = [base] + ([f"{tags[0]}_{base}"] if tags else [])
        clean = [re.sub(r"\W+", "_", c).strip("_") or "operation" for c in candidates]
        unique, n = next((c for c in clean if c not in self.op_ids), ""), 1
        while not unique or unique in self.op_ids:
            n += 1
            unique = f"{clean[-1]}_{n}"
        self.op_ids.add(unique)
        return unique

    # -- one operation ----------------------------------------------------------------------
    def operation(
        self, route: Any, chain: tuple[Any, ...], prefix: str, path: str, method: str
    ) -> dict[str, Any]:
        func = route.get_undecorated_callback()
        sig = _signature(func)
        hints = resolve_hints(func)
        spec = _validation(route)
        summary, description = _split_doc(func)
        tags = _tags(route, chain)
        op: dict[str, Any] = {}
        if tags:
            op["tags"] = tags
        if summary:
            op["summary"] = summary
        if description:
            op["description"] = description
        op["operationId"] = self.operation_id(route, func, method, tags)

        params: list[dict[str, Any]] = []
        path_params = _path_params(route)
        for name, (mode, conf) in path_params.items():
            schema, desc = _path_schema(mode, conf)
            p: dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": schema}
            if desc:
                p["description"] = desc
            params.append(p)
        query = schema_fields(spec.get("query"))
        if sig is not None:
            for name, prm in sig.parameters.items():
                if (
                    name in path_params
                    or name in query
                    or prm.kind in (prm.VAR_POSITIONAL, prm.VAR_KEYWORD)
                ):
                    continue
                schema = self.schemas.of(hints.get(name, prm.annotation))
                if prm.default is not prm.empty and isinstance(prm.default, _JSON_SCALARS):
                    schema["default"] = prm.default
                params.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": prm.default is prm.empty,
                        "schema": schema,
                    }
                )
        for name, (tp, required) in query.items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": required,
                    "schema": self.schemas.of(optional(tp)[1]),
                }
            )
        if params:
            op["parameters"] = params

        body = spec.get("body")
        if body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": self.schemas.of(body)}},
            }

        app = route.app
        code = str(route.config.get("status") or 200)
        ret = hints.get(
            "return", sig.return_annotation if sig is not None else inspect.Signature.empty
        )
        responses: dict[str, Any] = {code: self.success(ret, code)}
        if query:
            responses["400"] = self.validation(
                "Invalid query parameters" + (" or invalid JSON" if body else "")
            )
        if body is not None:
            responses.setdefault("400", self.validation("Invalid JSON"))
            responses["422"] = self.validation("Validation failed")
        if path_params:
            responses["404"] = self.error("Not found", app)
        has_body = method in _BODY_METHODS or body is not None
        security, declared = route_declarations(route, chain, path, method, has_body)
        if security:
            op["security"] = [{self.scheme(s): []} for s in security]
            if "401" not in declared and "401" not in responses:
                responses["401"] = self.error("Authentication required", app)
        elif security == []:
            op["security"] = []
        for status, value in declared.items():
            responses[status] = self.declared(status, value, app)
            if status == "429" and "headers" not in responses[status]:
                responses[status]["headers"] = {
                    "Retry-After": {
                        "description": "Seconds to wait before trying again",
                        "schema": {"type": "integer"},
                    }
                }
        for status, desc in _raised(route.get_undecorated_callback()).items():
            if status.startswith("3"):
                responses.setdefault(
                    status,
                    {
                        "description": desc,
                        "headers": {
                            "Location": {"description": "Where to go", "schema": {"type": "string"}}
                        },
                    },
                )
            else:
                responses.setdefault(status, self.error(desc, app))
        op["responses"] = dict(
            sorted(responses.items(), key=lambda kv: (kv[0] == "default", kv[0]))
        )
        return op


def build_openapi(
    app: Any, title: str | None = None, version: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app`` (see :func:`lcore.apidocs.openapi`)."""
    cfg = app.config
    info: dict[str, Any] = {
        "title": title or cfg.get("openapi.title") or "lcore API",
        "version": str(version or cfg.get("openapi.version") or "0.1.0"),
    }
    desc = description or cfg.get("openapi.description")
    if desc:
        info["description"] = desc
    b = _Builder()
    paths: dict[str, dict[str, Any]] = {}
    tags: list[str] = []
    for route, _rule, prefix, chain in _walk(app):
        path = _path(route, prefix)
        method = route.method.lower()
        methods = _ANY_METHODS if method == "any" else (method,) if method in _HTTP_METHODS else ()
        item = paths.setdefault(path, {})
        for m in methods:
            if m not in item:  # the first route for a method wins, as in matching
                item[m] = op = b.operation(route, chain, prefix, path, m)
                tags += [t for t in op.get("tags", ()) if t not in tags]
        if not item:
            del paths[path]
    doc: dict[str, Any] = {"openapi": "3.1.0", "info": info}
    if tags:
        doc["tags"] = [{"name": t} for t in tags]
    doc["paths"] = paths
    components: dict[str, Any] = {}
    if b.schemas.components:
        components["schemas"] = b.schemas.components
    if b.schemes:
        components["securitySchemes"] = b.schemes
    if components:
        doc["components"] = components
    return doc
