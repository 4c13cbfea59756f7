"""Built-in plugins: JSON for dict/list results, templates for ``template=`` routes.

A plugin (API 2) has ``name``, ``api = 2``, optional ``setup(app)``, ``apply(callback,
route)`` returning the wrapped callback, and optional ``close()``. The JSON conversion
itself is part of each route's plan (:mod:`lcore.plan`); the template plugin wraps
``async def`` handlers with an async wrapper, and finishes its work after an awaitable
result (a sync plugin around an async handler).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from ._bridge import is_async_callable
from ._utils import json_dumps

__all__ = ["JSONPlugin", "TemplatePlugin"]


class JSONPlugin:
    """Turn ``dict`` and ``list`` results into JSON responses (``json.enable`` config).

    The conversion is the core's: a route this plugin applies to has a plan whose cast
    serializes a ``dict`` or ``list`` (or a subclass) with ``json_dumps`` and marks the
    response ``application/json`` (a type the handler chose is kept), right after the
    handler and before middleware and response hooks see the result. ``apply`` leaves
    the callback as it is.

    Routes opt out with ``json_disable=True``, ``skip=['json']`` or ``skip=True``, and
    the whole app with ``json.enable = False``: then a plugin or ``@view`` may take
    dicts over, and a dict that reaches the response is a 500 whose log line names the
    route and says JSON conversion is off for it.
    """

    name = "json"
    api = 2

    def __init__(self, json_dumps: Any = json_dumps) -> None:
        self.json_dumps = json_dumps

    def apply(self, callback: Any, route: Any) -> Any:
        return callback


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
