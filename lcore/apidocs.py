"""API documentation from the routes: ``app.api_docs()`` and the ``/docs`` pages."""

from __future__ import annotations

import inspect
from typing import Any

from ._utils import html_escape, json_dumps

__all__ = ["api_docs", "enable_docs"]

_FILTER_TYPES = {"int": "int", "float": "float", "path": "str", "re": "str", "uuid": "str", "default": "str"}


def _type_name(annotation: Any) -> str | None:
    if annotation is inspect.Parameter.empty or annotation is inspect.Signature.empty:
        return None
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _path_params(route: Any) -> dict[str, str]:
    out = {}
    for _text, key, mode, _conf in route.app.router._parse(route.rule):
        if key:
            out[key] = _FILTER_TYPES.get(mode or "default", mode or "str")
    return out


def api_docs(app: Any) -> dict[str, Any]:
    """Describe the app's visible routes: method, rule, name, docstring, params, returns."""
    routes = []
    for route in app.routes:
        if route.config.get("_lcore_hidden") or route._mount is not None:
            continue
        func = route.get_undecorated_callback()
        try:
            sig = inspect.signature(func)
        except (TypeError, ValueError):
            sig = None
        path_params = _path_params(route)
        params = []
        if sig is not None:
            for name, p in sig.parameters.items():
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    continue
                entry: dict[str, Any] = {
                    "name": name,
                    "in": "path" if name in path_params else "query",
                    "type": _type_name(p.annotation) or path_params.get(name, "str"),
                    "required": p.default is p.empty,
                }
                if p.default is not p.empty:
                    entry["default"] = p.default if isinstance(p.default, (int, float, str, bool, type(None))) else repr(p.default)
                params.append(entry)
        for name, typ in path_params.items():
            if not any(pp["name"] == name for pp in params):
                params.append({"name": name, "in": "path", "type": typ, "required": True})
        routes.append(
            {
                "method": route.method,
                "rule": route.rule,
                "name": route.name,
                "docstring": inspect.cleandoc(func.__doc__) if func.__doc__ else None,
                "parameters": params,
                "return_type": _type_name(sig.return_annotation) if sig is not None else None,
                "async": route.is_async,
            }
        )
    return {"routes": routes, "count": len(routes)}


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>API documentation</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222;padding:0 1rem}}
h1{{font-size:1.6rem}} .route{{border:1px solid #ddd;border-radius:6px;margin:.8rem 0;padding:.7rem 1rem}}
.m{{display:inline-block;min-width:4.5rem;font-weight:700;font-family:monospace;padding:.1rem .4rem;border-radius:4px;color:#fff;text-align:center}}
.GET{{background:#2b7bb9}} .POST{{background:#2f9e44}} .PUT{{background:#e67700}} .DELETE{{background:#c92a2a}}
.PATCH{{background:#862e9c}} .ANY,.HEAD,.OPTIONS{{background:#495057}}
code{{font-size:1rem}} pre{{white-space:pre-wrap;margin:.4rem 0;color:#444}} table{{border-collapse:collapse;margin-top:.4rem}}
td,th{{border:1px solid #eee;padding:.2rem .6rem;text-align:left;font-size:.9rem}}
</style></head><body>
<h1>API documentation</h1><p>{count} routes &middot; <a href="{json_url}">JSON</a></p>
{routes}
</body></html>
"""


def _render_html(doc: dict[str, Any], json_url: str) -> str:
    blocks = []
    for r in doc["routes"]:
        rows = "".join(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                html_escape(p["name"]), html_escape(p["in"]), html_escape(p["type"]),
                "required" if p["required"] else "default: " + html_escape(repr(p.get("default"))),
            )
            for p in r["parameters"]
        )
        table = f"<table><tr><th>name</th><th>in</th><th>type</th><th></th></tr>{rows}</table>" if rows else ""
        ret = f"<div>returns <code>{html_escape(r['return_type'])}</code></div>" if r["return_type"] else ""
        blocks.append(
            '<div class="route"><span class="m {m}">{m}</span> <code>{rule}</code>{name}<pre>{doc}</pre>{table}{ret}</div>'.format(
                m=html_escape(r["method"]), rule=html_escape(r["rule"]),
                name=f" <small>({html_escape(r['name'])})</small>" if r["name"] else "",
                doc=html_escape(r["docstring"] or ""), table=table, ret=ret,
            )
        )
    return _PAGE.format(count=doc["count"], routes="\n".join(blocks), json_url=html_escape(json_url))


def enable_docs(app: Any, path: str = "/docs") -> None:
    """Add ``path`` (HTML) and ``path/json`` routes; both hide themselves from the docs."""
    path = "/" + path.strip("/")
    if app._docs_path == path:
        return
    app._docs_path = path

    def docs_json() -> Any:
        from .context import response

        response.content_type = "application/json"
        return json_dumps(api_docs(app))

    def docs_html() -> str:
        return _render_html(api_docs(app), path + "/json")

    app.route(path, "GET", docs_html, skip=True, _lcore_hidden=True, name=None)
    app.route(path + "/json", "GET", docs_json, skip=True, _lcore_hidden=True)
