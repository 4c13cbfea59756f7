"""API documentation from the routes: ``app.api_docs()``, ``app.openapi()`` and ``/docs``.

Everything is derived from what the app already knows: the rules and their filters
(``<id:int>`` is an integer path parameter), the handlers' signatures and type hints,
their docstrings (first line = summary, the rest = description), the schemas of
``@validate_request`` (query parameters and a JSON request body), the guards on a route
(``@auth_basic``, ``@rate_limit``, middleware) and the route config (``status=``,
``responses=``, ``security=``, ``tags=``). The OpenAPI document is built in
``lcore._openapi``, the /docs page in ``lcore.apidocs_page``.

``enable_docs(app, '/docs')`` adds three routes, all hidden from the docs themselves:
``/docs`` (an HTML page that works offline: inline CSS and script, no CDN, with "try it
out"), ``/docs/json`` (the :func:`api_docs` dict) and ``/docs/openapi.json`` (OpenAPI 3.1).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from typing import Any

from ._jsonschema import schema_fields as _schema_fields
from ._utils import json_dumps

__all__ = ["api_docs", "openapi", "enable_docs"]

_FILTER_TYPES = {
    "int": "int",
    "float": "float",
    "path": "str",
    "re": "str",
    "uuid": "str",
    "default": "str",
}
_JSON_SCALARS = (int, float, str, bool, type(None))


# -- walking the routes -------------------------------------------------------------------
def _walk(
    app: Any, prefix: str = "", chain: tuple[Any, ...] = ()
) -> Iterator[tuple[Any, str, str, tuple[Any, ...]]]:
    """``(route, full rule, prefix, mounts)`` for every documented route, mounted Lcore
    apps included; ``mounts`` is the ``(parent app, mount route)`` pairs above the route."""
    for route in app.routes:
        if route.config.get("_lcore_hidden"):
            continue
        mount = route._mount
        if mount is not None:
            kind, child, norm, _depth = mount
            # A mount adds two routes (with and without the trailing path); walk once.
            if kind == "lcore" and route.rule.endswith(">"):
                yield from _walk(child, prefix + norm.rstrip("/"), chain + ((app, route),))
            continue
        yield route, prefix + route.rule, prefix, chain


def _visible_routes(app: Any) -> Iterator[tuple[Any, str]]:
    """``(route, full rule)`` for every documented route, mounted Lcore apps included."""
    for route, rule, _prefix, _chain in _walk(app):
        yield route, rule


def _validation(route: Any) -> dict[str, Any]:
    """The ``@validate_request`` schemas on the route's callback chain, if any."""
    func, seen = route.callback, 0
    while func is not None and seen < 50:
        spec = getattr(func, "__lcore_validation__", None)
        if isinstance(spec, dict):
            return spec
        func, seen = getattr(func, "__wrapped__", None), seen + 1
    return {}


def _signature(func: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


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
            params.append(
                {
                    "name": name,
                    "in": "path",
                    "type": _FILTER_TYPES.get(mode, "str"),
                    "required": True,
                }
            )
    query = _schema_fields(_validation(route).get("query"))
    for name, (tp, required) in query.items():
        if not any(pp["name"] == name for pp in params):
            params.append(
                {"name": name, "in": "query", "type": _type_name(tp) or "str", "required": required}
            )
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
        entry["body"] = {
            k: _type_name(v) if not isinstance(v, dict) else "object"
            for k, (v, _required) in _schema_fields(body).items()
        }
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
def openapi(
    app: Any, title: str | None = None, version: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """An OpenAPI 3.1 document of the app's visible routes (mounted Lcore apps included).

    ``title``, ``version`` and ``description`` default to the config keys
    ``openapi.title``, ``openapi.version`` and ``openapi.description``. Each operation
    lists the statuses the app can answer with: the route's ``status=`` (else 200) and
    ``responses=``, and those its guards imply (see docs/openapi.md).
    """
    from ._openapi import build_openapi

    return build_openapi(app, title, version, description)


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
        from .apidocs_page import render_page

        title = app.config.get("openapi.title") or "API documentation"
        return render_page(app, path, base + "/json", base + "/openapi.json", title)

    app.route(path, "GET", docs_html, skip=True, _lcore_hidden=True, name=None)
    app.route(base + "/json", "GET", docs_json, skip=True, _lcore_hidden=True)
    app.route(base + "/openapi.json", "GET", docs_openapi, skip=True, _lcore_hidden=True)
