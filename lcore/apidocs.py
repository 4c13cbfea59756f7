"""API documentation from the routes: ``app.api_docs()``, ``app.openapi()`` and ``/docs``.

Everything is derived from what the app already knows: the rules and their filters
(``<id:int>`` is an integer path parameter), the handlers' signatures and type hints,
their docstrings (first line = summary, the rest = description) and the schemas of
``@validate_request`` (query parameters and a JSON request body).

``enable_docs(app, '/docs')`` adds three routes, all hidden from the docs themselves:
``/docs`` (an HTML page that works offline: inline CSS and script, no CDN),
``/docs/json`` (the :func:`api_docs` dict) and ``/docs/openapi.json`` (OpenAPI 3.1).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import decimal
import enum
import inspect
import re
import types
import typing
import uuid
from collections.abc import Iterator
from typing import Any

from ._utils import html_escape, json_dumps

__all__ = ["api_docs", "openapi", "enable_docs"]

_FILTER_TYPES = {"int": "int", "float": "float", "path": "str", "re": "str", "uuid": "str", "default": "str"}
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: What an ``ANY`` route is listed under in the OpenAPI document.
_ANY_METHODS = ("get", "post", "put", "patch", "delete")
_UNION_TYPES: tuple[Any, ...] = (typing.Union, types.UnionType)
_NONE = type(None)
_JSON_SCALARS = (int, float, str, bool, type(None))


# -- walking the routes -------------------------------------------------------------------
def _visible_routes(app: Any, prefix: str = "") -> Iterator[tuple[Any, str]]:
    """``(route, full rule)`` for every documented route, mounted Lcore apps included."""
    for route in app.routes:
        if route.config.get("_lcore_hidden"):
            continue
        mount = route._mount
        if mount is not None:
            kind, child, norm, _depth = mount
            # A mount adds two routes (with and without the trailing path); walk once.
            if kind == "lcore" and route.rule.endswith(">"):
                yield from _visible_routes(child, prefix + norm.rstrip("/"))
            continue
        yield route, prefix + route.rule


def _validation(route: Any) -> dict[str, Any]:
    """The ``@validate_request`` schemas on the route's callback chain, if any."""
    func, seen = route.callback, 0
    while func is not None and seen < 50:
        spec = getattr(func, "__lcore_validation__", None)
        if isinstance(spec, dict):
            return spec
        func, seen = getattr(func, "__wrapped__", None), seen + 1
    return {}


def _schema_fields(schema: Any) -> dict[str, tuple[Any, bool]]:
    """``name -> (type, required)`` of a ``@validate_request`` schema (dict or dataclass)."""
    if isinstance(schema, type) and dataclasses.is_dataclass(schema):
        hints = _hints(schema)
        out = {}
        for f in dataclasses.fields(schema):
            tp = hints.get(f.name, f.type)
            out[f.name] = (tp, _required_field(f, tp))
        return out
    return {k: (v, not _optional(v)[0]) for k, v in (schema or {}).items()}


def _required_field(f: dataclasses.Field[Any], tp: Any) -> bool:
    """What ``validate_request`` requires: no default, and not ``Optional``."""
    missing = dataclasses.MISSING
    return f.default is missing and f.default_factory is missing and not _optional(tp)[0]


def _signature(func: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _hints(func: Any) -> dict[str, Any]:
    """Resolved type hints (``from __future__ import annotations`` too); {} if they fail."""
    try:
        return typing.get_type_hints(func)
    except Exception:
        return {}


def _type_name(annotation: Any) -> str | None:
    if annotation is inspect.Parameter.empty or annotation is inspect.Signature.empty:
        return None
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _path_params(route: Any) -> dict[str, tuple[str, str | None]]:
    """Path parameter name -> (filter mode, filter config), in rule order."""
    out: dict[str, tuple[str, str | None]] = {}
    anon = 0
    for _text, key, mode, conf in route.app.router._parse(route.rule):
        if mode is None:
            continue
        if not key:
            anon += 1
            key = f"anon{anon}"
        out[key] = (mode, conf)
    return out


def _split_doc(func: Any) -> tuple[str | None, str | None]:
    doc = inspect.getdoc(func)
    if not doc:
        return None, None
    first, _, rest = doc.partition("\n")
    return first.strip() or None, rest.strip() or None


# -- the api_docs() dict --------------------------------------------------------------------
def _json_default(value: Any) -> Any:
    return value if isinstance(value, _JSON_SCALARS) else repr(value)


def _route_entry(route: Any, rule: str) -> dict[str, Any]:
    func = route.get_undecorated_callback()
    sig = _signature(func)
    path_params = _path_params(route)
    params: list[dict[str, Any]] = []
    if sig is not None:
        for name, p in sig.parameters.items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            mode = path_params.get(name, ("default", None))[0]
            entry: dict[str, Any] = {
                "name": name,
                "in": "path" if name in path_params else "query",
                "type": _type_name(p.annotation) or _FILTER_TYPES.get(mode, "str"),
                "required": p.default is p.empty,
            }
            if p.default is not p.empty:
                entry["default"] = _json_default(p.default)
            params.append(entry)
    for name, (mode, _conf) in path_params.items():
        if not any(pp["name"] == name for pp in params):
            params.append({"name": name, "in": "path", "type": _FILTER_TYPES.get(mode, "str"), "required": True})
    query = _schema_fields(_validation(route).get("query"))
    for name, (tp, required) in query.items():
        if not any(pp["name"] == name for pp in params):
            params.append({"name": name, "in": "query", "type": _type_name(tp) or "str",
                           "required": required})
    body = _validation(route).get("body")
    entry = {
        "method": route.method,
        "rule": rule,
        "name": route.name,
        "docstring": inspect.cleandoc(func.__doc__) if func.__doc__ else None,
        "parameters": params,
        "return_type": _type_name(sig.return_annotation) if sig is not None else None,
        "async": route.is_async,
    }
    if body is not None:
        entry["body"] = {k: _type_name(v) if not isinstance(v, dict) else "object"
                         for k, (v, _required) in _schema_fields(body).items()}
    return entry


def api_docs(app: Any) -> dict[str, Any]:
    """Describe the app's visible routes: method, rule, name, docstring, params, returns.

    ``{"routes": [...], "version": <lcore version>, "count": N}`` (Lcore 0.0.4's keys,
    plus the count).
    """
    from . import __version__

    routes = [_route_entry(route, rule) for route, rule in _visible_routes(app)]
    return {"routes": routes, "version": __version__, "count": len(routes)}


# -- OpenAPI 3.1 ------------------------------------------------------------------------------
def _optional(tp: Any) -> tuple[bool, Any]:
    if typing.get_origin(tp) in _UNION_TYPES:
        args = typing.get_args(tp)
        if _NONE in args:
            rest = tuple(a for a in args if a is not _NONE)
            return True, (rest[0] if len(rest) == 1 else typing.Union[rest])  # noqa: UP007
    return False, tp


_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    decimal.Decimal: {"type": "number"},
    bool: {"type": "boolean"},
    bytes: {"type": "string", "contentEncoding": "base64"},
    list: {"type": "array"},
    tuple: {"type": "array"},
    set: {"type": "array", "uniqueItems": True},
    frozenset: {"type": "array", "uniqueItems": True},
    dict: {"type": "object"},
    _NONE: {"type": "null"},
    uuid.UUID: {"type": "string", "format": "uuid"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.time: {"type": "string", "format": "time"},
}
_NAMED = {"str": str, "int": int, "float": float, "bool": bool, "bytes": bytes, "list": list,
          "dict": dict, "None": _NONE, "Any": typing.Any}
_ARRAYS = (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Iterable,
           collections.abc.Set, collections.abc.MutableSequence)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _object_schema(fields: dict[str, Any], required: list[str], seen: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": {k: _schema(v, seen) for k, v in fields.items()}}
    if required:
        out["required"] = required
    return out


def _schema(tp: Any, seen: tuple[Any, ...] = ()) -> dict[str, Any]:
    """A JSON Schema (2020-12, as OpenAPI 3.1 uses) for a type hint or a validation schema."""
    if tp is inspect.Parameter.empty or tp is typing.Any or tp is object:
        return {}
    if isinstance(tp, str):
        tp = _NAMED.get(tp, typing.Any)
        return _schema(tp, seen)
    if tp is None:
        return {"type": "null"}
    if isinstance(tp, dict):  # a validate_request (nested) schema: name -> type
        return _object_schema(tp, [k for k, v in tp.items() if not _optional(v)[0]], seen)
    if tp in seen:  # a recursive dataclass / TypedDict
        return {"type": "object"}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _schema(args[0], seen)
    if origin in _UNION_TYPES:
        options = [_schema(a, seen) for a in args]
        nulls = [o for o in options if o == {"type": "null"}]
        rest = [o for o in options if o != {"type": "null"}]
        if nulls and len(rest) == 1 and isinstance(rest[0].get("type"), str) and "items" not in rest[0]:
            return {**rest[0], "type": [rest[0]["type"], "null"]}
        return {"anyOf": options}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in _ARRAYS:
        out: dict[str, Any] = {"type": "array"}
        if origin in (set, frozenset, collections.abc.Set):
            out["uniqueItems"] = True
        if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
            out["prefixItems"] = [_schema(a, seen) for a in args]
            out["minItems"] = out["maxItems"] = len(args)
        elif args:
            out["items"] = _schema(args[0], seen)
        return out
    if origin in _MAPPINGS:
        out = {"type": "object"}
        if len(args) == 2 and _schema(args[1], seen):
            out["additionalProperties"] = _schema(args[1], seen)
        return out
    if tp in _SIMPLE:
        return dict(_SIMPLE[tp])
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return {"enum": [m.value for m in tp]}
        if dataclasses.is_dataclass(tp):
            hints = _hints(tp)
            fields = {f.name: hints.get(f.name, f.type) for f in dataclasses.fields(tp)}
            required = [f.name for f in dataclasses.fields(tp) if _required_field(f, fields[f.name])]
            return {"title": tp.__name__, **_object_schema(fields, required, seen + (tp,))}
        if typing.is_typeddict(tp):
            return {"title": tp.__name__,
                    **_object_schema(_hints(tp), sorted(tp.__required_keys__), seen + (tp,))}  # type: ignore[attr-defined]
        for base, schema in _SIMPLE.items():  # subclasses (IntEnum handled above)
            if base is not _NONE and issubclass(tp, base):
                return dict(schema)
    return {}


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


def _openapi_path(route: Any, prefix: str) -> str:
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


_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "details": {
            "type": "array",
            "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}},
        },
    },
    "required": ["error"],
}


def _response_for(annotation: Any) -> dict[str, Any]:
    if annotation is inspect.Signature.empty:
        return {"description": "Successful response"}
    if annotation is None or annotation is _NONE:
        return {"description": "Empty response"}
    origin = typing.get_origin(annotation) or annotation
    if origin is str:
        return {"description": "Successful response", "content": {"text/html": {"schema": {"type": "string"}}}}
    if origin is bytes:
        return {"description": "Successful response", "content": {"application/octet-stream": {}}}
    schema = _schema(annotation)
    if not schema:
        return {"description": "Successful response"}
    return {"description": "Successful response", "content": {"application/json": {"schema": schema}}}


def _operation(route: Any, op_ids: set[str]) -> dict[str, Any]:
    func = route.get_undecorated_callback()
    sig = _signature(func)
    hints = _hints(func)
    spec = _validation(route)
    summary, description = _split_doc(func)
    op: dict[str, Any] = {}
    if summary:
        op["summary"] = summary
    if description:
        op["description"] = description
    base = route.name or getattr(func, "__name__", "handler")
    op_id = re.sub(r"\W+", "_", f"{base}_{route.method.lower()}" if not route.name else base)
    n, unique = 1, op_id
    while unique in op_ids:
        n += 1
        unique = f"{op_id}_{n}"
    op_ids.add(unique)
    op["operationId"] = unique

    params: list[dict[str, Any]] = []
    path_params = _path_params(route)
    for name, (mode, conf) in path_params.items():
        schema, desc = _path_schema(mode, conf)
        p: dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": schema}
        if desc:
            p["description"] = desc
        params.append(p)
    query = _schema_fields(spec.get("query"))
    if sig is not None:
        for name, prm in sig.parameters.items():
            if name in path_params or name in query or prm.kind in (prm.VAR_POSITIONAL, prm.VAR_KEYWORD):
                continue
            schema = _schema(hints.get(name, prm.annotation))
            entry: dict[str, Any] = {"name": name, "in": "query", "required": prm.default is prm.empty}
            if prm.default is not prm.empty and isinstance(prm.default, _JSON_SCALARS):
                schema["default"] = prm.default
            entry["schema"] = schema
            params.append(entry)
    for name, (tp, required) in query.items():
        params.append({"name": name, "in": "query", "required": required, "schema": _schema(_optional(tp)[1])})
    if params:
        op["parameters"] = params

    body = spec.get("body")
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _schema(body)}}}
    ret = hints.get("return", sig.return_annotation if sig is not None else inspect.Signature.empty)
    responses: dict[str, Any] = {"200": _response_for(ret)}
    if query:
        responses["400"] = {"description": "Invalid query parameters or invalid JSON",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ValidationError"}}}}
    if body is not None:
        responses.setdefault("400", {"description": "Invalid JSON",
                                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ValidationError"}}}})
        responses["422"] = {"description": "Validation failed",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ValidationError"}}}}
    op["responses"] = responses
    return op


def openapi(app: Any, title: str | None = None, version: str | None = None,
            description: str | None = None) -> dict[str, Any]:
    """An OpenAPI 3.1 document of the app's visible routes (mounted Lcore apps included).

    ``title``, ``version`` and ``description`` default to the config keys
    ``openapi.title``, ``openapi.version`` and ``openapi.description``.
    """
    cfg = app.config
    info: dict[str, Any] = {
        "title": title or cfg.get("openapi.title") or "lcore API",
        "version": str(version or cfg.get("openapi.version") or "0.1.0"),
    }
    desc = description or cfg.get("openapi.description")
    if desc:
        info["description"] = desc
    paths: dict[str, dict[str, Any]] = {}
    op_ids: set[str] = set()
    for route, rule in _visible_routes(app):
        prefix = rule[: len(rule) - len(route.rule)]
        path = _openapi_path(route, prefix)
        method = route.method.lower()
        methods = _ANY_METHODS if method == "any" else (method,) if method in _HTTP_METHODS else ()
        item = paths.setdefault(path, {})
        for m in methods:
            if m not in item:  # the first route for a method wins, as in matching
                item[m] = _operation(route, op_ids)
        if not item:
            del paths[path]
    doc: dict[str, Any] = {"openapi": "3.1.0", "info": info, "paths": paths}
    if '"#/components/schemas/ValidationError"' in json_dumps(paths):
        doc["components"] = {"schemas": {"ValidationError": _ERROR_SCHEMA}}
    return doc


# -- the HTML page -----------------------------------------------------------------------------
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
*{{box-sizing:border-box}}
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#f6f8fa}}
header{{background:#24292f;color:#fff;padding:1.2rem 2rem}} header h1{{margin:0;font-size:1.5rem}}
header a{{color:#9ecbff}} header p{{margin:.3rem 0 0;color:#c9d1d9}}
main{{max-width:64rem;margin:0 auto;padding:1rem 2rem 3rem}}
.bar{{display:flex;gap:.6rem;flex-wrap:wrap;align-items:center;margin:.6rem 0 1rem}}
.bar input[type=search]{{flex:1;min-width:14rem;padding:.5rem .7rem;font-size:1rem;border:1px solid #d0d7de;border-radius:6px}}
.bar label{{font-family:ui-monospace,monospace;font-size:.85rem}}
.route{{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:.7rem 0;padding:.8rem 1rem}}
.route h2{{margin:0;font-size:1.05rem;font-weight:600;display:flex;align-items:center;gap:.6rem;flex-wrap:wrap}}
.m{{display:inline-block;min-width:4.6rem;font:700 .8rem ui-monospace,monospace;padding:.25rem .4rem;border-radius:4px;color:#fff;text-align:center}}
.GET{{background:#0969da}} .POST{{background:#1a7f37}} .PUT{{background:#bc4c00}} .DELETE{{background:#cf222e}}
.PATCH{{background:#8250df}} .ANY,.HEAD,.OPTIONS,.other{{background:#57606a}}
.rule{{font:600 1rem ui-monospace,monospace}} .name{{color:#57606a;font-weight:400;font-size:.85rem}}
.async{{font-size:.7rem;border:1px solid #8250df;color:#8250df;border-radius:10px;padding:0 .4rem}}
.summary{{margin:.5rem 0 0;font-weight:500}} .desc{{white-space:pre-wrap;margin:.3rem 0 0;color:#424a53;font:inherit}}
table{{border-collapse:collapse;margin-top:.6rem;width:100%}}
th,td{{border-bottom:1px solid #eaeef2;padding:.3rem .5rem;text-align:left;font-size:.88rem}} th{{color:#57606a;font-weight:600}}
td code,.ret code{{font-family:ui-monospace,monospace}} .ret{{margin-top:.5rem;font-size:.9rem}}
.req{{color:#cf222e}} .empty{{color:#57606a}} [hidden]{{display:none!important}}
</style></head><body>
<header><h1>{title}</h1>
<p><span id="count">{count}</span> routes &middot; <a href="{json_url}">JSON</a> &middot; <a href="{openapi_url}">OpenAPI 3.1</a></p></header>
<main>
<div class="bar"><input type="search" id="filter" placeholder="Filter routes (path, name, text)" aria-label="Filter routes">
{method_boxes}</div>
<div id="routes">
{routes}
</div>
<p class="empty" id="none" hidden>No route matches the filter.</p>
</main>
<script>
(function(){{
  var input=document.getElementById('filter'), boxes=document.querySelectorAll('.bar input[type=checkbox]');
  var routes=document.querySelectorAll('.route'), count=document.getElementById('count'), none=document.getElementById('none');
  function apply(){{
    var q=input.value.toLowerCase(), on={{}}, shown=0;
    boxes.forEach(function(b){{on[b.value]=b.checked;}});
    routes.forEach(function(r){{
      var ok=on[r.dataset.method]!==false && r.textContent.toLowerCase().indexOf(q)>=0;
      r.hidden=!ok; if(ok) shown++;
    }});
    count.textContent=shown===routes.length?String(shown):shown+' of '+routes.length;
    none.hidden=shown>0;
  }}
  input.addEventListener('input',apply); boxes.forEach(function(b){{b.addEventListener('change',apply);}});
}})();
</script>
</body></html>
"""

_BADGES = {"GET", "POST", "PUT", "DELETE", "PATCH", "ANY", "HEAD", "OPTIONS"}


def _param_rows(params: list[dict[str, Any]]) -> str:
    rows = []
    for p in params:
        if p["required"]:
            default = '<span class="req">required</span>'
        else:
            default = f"<code>{html_escape(repr(p.get('default')))}</code>"
        rows.append(
            f"<tr><td><code>{html_escape(p['name'])}</code></td><td>{html_escape(p['in'])}</td>"
            f"<td><code>{html_escape(str(p['type']))}</code></td><td>{default}</td></tr>"
        )
    return "".join(rows)


def _render_html(doc: dict[str, Any], json_url: str, openapi_url: str, title: str) -> str:
    blocks = []
    methods: list[str] = []
    for r in doc["routes"]:
        method = r["method"]
        if method not in methods:
            methods.append(method)
        summary, _, rest = (r["docstring"] or "").partition("\n")
        parts = [
            f'<article class="route" data-method="{html_escape(method)}" data-rule="{html_escape(r["rule"])}">',
            f'<h2><span class="m {method if method in _BADGES else "other"}">{html_escape(method)}</span>'
            f'<span class="rule">{html_escape(r["rule"])}</span>',
        ]
        if r["name"]:
            parts.append(f'<span class="name">{html_escape(r["name"])}</span>')
        if r.get("async"):
            parts.append('<span class="async">async</span>')
        parts.append("</h2>")
        if summary:
            parts.append(f'<p class="summary">{html_escape(summary)}</p>')
        if rest.strip():
            parts.append(f'<pre class="desc">{html_escape(rest.strip())}</pre>')
        if r["parameters"]:
            parts.append("<table><thead><tr><th>Parameter</th><th>In</th><th>Type</th><th>Default</th></tr>"
                         f"</thead><tbody>{_param_rows(r['parameters'])}</tbody></table>")
        if r.get("body"):
            fields = ", ".join(f"<code>{html_escape(k)}: {html_escape(str(v))}</code>" for k, v in r["body"].items())
            parts.append(f'<div class="ret">JSON body: {fields}</div>')
        if r["return_type"]:
            parts.append(f'<div class="ret">Returns <code>{html_escape(r["return_type"])}</code></div>')
        parts.append("</article>")
        blocks.append("".join(parts))
    boxes = "".join(
        f'<label><input type="checkbox" value="{html_escape(m)}" checked> {html_escape(m)}</label>' for m in methods
    )
    return _PAGE.format(title=html_escape(title), count=doc["count"], routes="\n".join(blocks),
                        json_url=html_escape(json_url), openapi_url=html_escape(openapi_url),
                        method_boxes=boxes)


def enable_docs(app: Any, path: str = "/docs") -> None:
    """Add ``path`` (HTML), ``path/json`` and ``path/openapi.json``; all hide themselves."""
    path = "/" + path.strip("/")
    if app._docs_path == path:
        return
    app._docs_path = path
    base = path.rstrip("/")

    def docs_json() -> Any:
        from .context import response

        response.content_type = "application/json"
        return json_dumps(api_docs(app))

    def docs_openapi() -> Any:
        from .context import response

        response.content_type = "application/json"
        return json_dumps(openapi(app))

    def docs_html() -> str:
        title = app.config.get("openapi.title") or "API documentation"
        return _render_html(api_docs(app), base + "/json", base + "/openapi.json", title)

    app.route(path, "GET", docs_html, skip=True, _lcore_hidden=True, name=None)
    app.route(base + "/json", "GET", docs_json, skip=True, _lcore_hidden=True)
    app.route(base + "/openapi.json", "GET", docs_openapi, skip=True, _lcore_hidden=True)
