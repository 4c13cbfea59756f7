"""Built-in plugins: JSON for dict/list results, templates for ``template=`` routes.

A plugin (API 2) has ``name``, ``api = 2``, optional ``setup(app)``, ``apply(callback,
route)`` returning the wrapped callback, and optional ``close()``. Both built-ins
wrap ``async def`` handlers with async wrappers, and when a wrapped callback returns an
awaitable (a sync plugin around an async handler) they finish their work after it.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from ._bridge import is_async_callable
from ._utils import json_dumps
from .context import _current
from .response import HTTPResponse

__all__ = ["JSONPlugin", "TemplatePlugin"]


class JSONPlugin:
    """Turn ``dict`` and ``list`` results into JSON responses (``json.enable`` config).

    Routes opt out with ``json_disable=True`` or ``skip=['json']``.
    """

    name = "json"
    api = 2

    def __init__(self, json_dumps: Any = json_dumps) -> None:
        self.json_dumps = json_dumps

    def casts_like_core(self, route: Any) -> bool:
        """True when the core's own cast of a result is exactly what :meth:`apply` adds.

        So it is for the default serializer: a ``dict`` or ``list`` becomes compact JSON
        with ``Content-Type: application/json`` (a type the handler chose is kept). The
        dispatcher's fast path then calls the route without this wrapper and converts
        the result itself (see :func:`lcore.dispatch._json_convert`).
        """
        return type(self) is JSONPlugin and self.json_dumps is json_dumps and self._applies(route)

    @staticmethod
    def _applies(route: Any) -> bool:
        return not route.config.get("json_disable") and route.app.config.get("json.enable", True)

    def apply(self, callback: Any, route: Any) -> Any:
        if not self._applies(route):
            return callback
        dumps = self.json_dumps
        convert = self._convert

        if is_async_callable(callback):

            @functools.wraps(callback)
            async def async_wrapper(*a: Any, **ka: Any) -> Any:
                rv = await callback(*a, **ka)
                return convert(rv, dumps)

            return async_wrapper

        @functools.wraps(callback)
        def wrapper(*a: Any, **ka: Any) -> Any:
            rv = callback(*a, **ka)
            # PERF: the common cases (str, or a dict from a sync handler) handled inline.
            t = type(rv)
            if t is str or t is bytes:
                return rv
            if t is dict:
                c = _current.get(None)
                if c is not None:
                    _json_type(c.response._headers)
                return dumps(rv)
            if inspect.isawaitable(rv):
                return _finish(rv, convert, dumps)
            return convert(rv, dumps)

        return wrapper

    @staticmethod
    def _convert(rv: Any, dumps: Any) -> Any:
        if isinstance(rv, (dict, list)):
            c = _current.get(None)
            if c is not None:
                _json_type(c.response._headers)
            return dumps(rv)
        if isinstance(rv, HTTPResponse) and isinstance(rv.body, (dict, list)):
            rv.body = dumps(rv.body)
            _json_type(rv._headers)
        return rv


def _json_type(headers: dict[str, list[str]]) -> None:
    """Mark the response as JSON unless the handler chose a type (``application/problem+json``)."""
    ct = headers.get("Content-Type")
    if ct is None or ct[-1].startswith("text/html"):
        headers["Content-Type"] = ["application/json"]


async def _finish(rv: Any, convert: Any, dumps: Any) -> Any:
    return convert(await rv, dumps)


class TemplatePlugin:
    """Render a dict result with the route's ``template=`` config.

    ``template='name'`` or ``template=('name', {defaults})``; a ``template_adapter``
    in the route config picks the engine (default SimpleTemplate).
    """

    name = "template"
    api = 2

    def setup(self, app: Any) -> None:
        app.tpl = self

    def apply(self, callback: Any, route: Any) -> Any:
        conf = route.config.get("template")
        if isinstance(conf, (tuple, list)) and len(conf) == 2:
            return self._view(conf[0], callback, conf[1], route)
        if isinstance(conf, str):
            return self._view(conf, callback, {}, route)
        return callback

    @staticmethod
    def _view(name: str, callback: Any, defaults: dict[str, Any], route: Any) -> Any:
        from . import templates

        adapter = route.config.get("template_adapter") or templates.SimpleTemplate
        render_opts = route.config.get("template_opts", {})

        def render(rv: Any) -> Any:
            if isinstance(rv, dict) or rv is None:
                tplvars = dict(defaults)
                if rv:
                    tplvars.update(rv)
                return templates.template(name, template_adapter=adapter, **render_opts, **tplvars)
            return rv

        if is_async_callable(callback):

            @functools.wraps(callback)
            async def async_wrapper(*a: Any, **ka: Any) -> Any:
                return render(await callback(*a, **ka))

            return async_wrapper

        @functools.wraps(callback)
        def wrapper(*a: Any, **ka: Any) -> Any:
            rv = callback(*a, **ka)
            if inspect.isawaitable(rv):
                return _finish_render(rv, render)
            return render(rv)

        return wrapper


async def _finish_render(rv: Any, render: Any) -> Any:
    return render(await rv)
