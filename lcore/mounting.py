"""Mounting: serving another app (Lcore, WSGI or ASGI) below a path prefix.

:class:`Mounts` is a part of :class:`lcore.Lcore` (the app object is composed of such
parts, one noun each): ``mount``, ``mounts``, module hooks, and the pipeline step that
hands a request to the mounted app.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import dispatch
from ._bridge import is_async_callable
from ._utils import makelist
from .context import RequestContext, _current, _current_or_none
from .hooks import attach, call_all, run_plan
from .request import BaseRequest
from .response import BaseResponse, HTTPResponse
from .routing import Route

__all__ = ["Mounts"]

#: Where the protocol adapters live; loaded on first use (the seam between core and edge).
_RUNNERS = {"wsgi": "lcore.wsgi", "asgi": "lcore_asgi.adapter"}


class Mounts:
    """Mounted apps and their module hooks (a part of :class:`lcore.Lcore`)."""

    _mounts: list[tuple[str, Any]]
    _hooks: dict[str, list[Callable[..., Any]]]
    _module_hooks: dict[tuple[str, str], list[Callable[..., Any]]]
    _module_hook_plan: dict[tuple[str, str], tuple[tuple[Callable[..., Any], bool], ...]]
    router: Any

    if TYPE_CHECKING:

        def trigger_hook(self, name: str, *args: Any, **kwargs: Any) -> list[Any] | None: ...

        def add_route(self, route: Route) -> Route: ...

    def add_module_hook(
        self, prefix: str, name: str, func: Callable[..., Any]
    ) -> Callable[..., Any]:
        """Attach a hook that runs only for requests to the module mounted at ``prefix``."""
        attach(self._module_hooks.setdefault((_norm_prefix(prefix), name), []), name, func)
        self._module_hook_plan = run_plan(self._module_hooks)
        return func

    def module_hook(
        self, prefix: str, name: str
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of :meth:`add_module_hook`."""

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_module_hook(prefix, name, func)
            return func

        return decorator

    def trigger_module_hooks(
        self, prefix: str, name: str, *args: Any, **kwargs: Any
    ) -> list[Any] | None:
        """Call the module hooks registered for ``prefix`` and ``name``."""
        return call_all(self._module_hooks.get((_norm_prefix(prefix), name)), *args, **kwargs)

    def mount(self, prefix: str, app: Any, **options: Any) -> None:
        """Serve ``app`` below ``prefix``: an Lcore app, a WSGI app, or an ASGI app.

        An Lcore child keeps its own routes, hooks, plugins, middleware and error
        handlers; the parent's middleware also wrap it. A foreign WSGI app works under
        both protocols (in a worker thread under ASGI); a foreign ASGI app works under
        both too (on the persistent event loop under WSGI).
        """
        segments = [p for p in prefix.split("/") if p]
        if not segments:
            raise ValueError("Empty path prefix.")
        norm = "/" + "/".join(segments) + "/"
        depth = len(segments)
        if isinstance(app, Mounts):
            kind = "lcore"
            self.trigger_hook("on_module_mount", norm, app)
        elif is_async_callable(app):
            kind = "asgi"
        elif callable(app):
            kind = "wsgi"
        else:
            raise TypeError(f"cannot mount {app!r}: not an Lcore, WSGI or ASGI application")
        self._mounts.append((norm, app))
        method = options.pop("method", "ANY")
        name = options.pop("name", None)
        skip = makelist(options.pop("skip", None))
        for rule in ("/" + "/".join(segments) + "/<:re:.*>", "/" + "/".join(segments)):
            r = Route(
                self,
                rule,
                method,
                _mount_placeholder,
                name=name if rule.endswith(">") else None,
                skiplist=skip,
                **options,
            )
            r._mount = (kind, app, norm, depth)
            self.add_route(r)

    @property
    def mounts(self) -> tuple[tuple[str, Any], ...]:
        """The apps mounted with :meth:`mount`, as ``(prefix, app)`` pairs in mount order."""
        return tuple(self._mounts)

    def _dispatch_mount(self, mode: int, c: RequestContext, mount: tuple[Any, ...]) -> Any:
        """Pipeline step for a mount route (a generator, run by the current driver)."""
        kind, child, prefix, depth = mount
        req = c.request
        if self._module_hooks and (prefix, "on_module_request") in self._module_hooks:
            yield from dispatch._call(
                mode, False, self.trigger_module_hooks, prefix, "on_module_request", c
            )
        if "on_module_request" in self._hooks:
            for fn in self._hooks["on_module_request"]:
                yield from dispatch._call(mode, is_async_callable(fn), fn, prefix, c)
        sub = req.copy()
        try:
            sub.path_shift(depth)
        except AssertionError:
            sub.script_name = req.script_name.rstrip("/") + prefix.rstrip("/")
            sub._path = "/"
        if kind == "lcore":
            sub.app = child
            sc = RequestContext(sub, BaseResponse(), child)
            sc.state = c.state
            sc.user = c.user
            sc.request_id = c.request_id
            sc._module_chain = c._module_chain + ((self, prefix, c),)
            token = _current.set(sc)
            try:
                out = yield from dispatch.pipeline(child, mode, sc)
            finally:
                _current.reset(token)
            c.user = sc.user
            return _outgoing_to_response(out)
        runner = importlib.import_module(_RUNNERS[kind])
        if kind == "asgi" and mode == dispatch.SYNC and sub._body_needed:
            # Under WSGI the body can only be read by blocking: do it here, not on the loop.
            sub.body  # noqa: B018
        if kind == "wsgi":
            return (yield from dispatch._call(mode, False, runner.call_wsgi_app, child, sub))
        return (yield dispatch._Await(runner.call_asgi_app(child, sub)))

    def _mount_is_async(self, route: Route, req: BaseRequest) -> bool:
        """Whether a request to mount ``route`` ends in an async handler (the ASGI mode)."""
        kind, child, _prefix, depth = route._mount  # type: ignore[misc]
        if kind == "asgi":
            return True
        if kind == "wsgi":
            return False
        sub = req.copy()
        try:
            sub.path_shift(depth)
        except AssertionError:
            sub._path = "/"
        try:
            inner, _args = child.router.match(sub.method, sub._path)
        except HTTPResponse:
            return True  # error pages are cheap; render them on the loop
        if inner._mount is not None:
            return child._mount_is_async(inner, sub)
        return inner.is_async


def _mount_placeholder(*_a: Any, **_k: Any) -> None:  # pragma: no cover - never called
    raise RuntimeError("mount routes are dispatched by the pipeline")


def _outgoing_to_response(out: dispatch.Outgoing) -> HTTPResponse:
    res = HTTPResponse(status=out.status_line)
    for k, v in out.headers:
        if k == "Set-Cookie":
            if res._cookies is None:
                res._cookies = []
            res._cookies.append(v)
        else:
            res.add_header(k, v)
    res.body = out.body
    # The child's request ends with the parent's: its scoped objects, spooled body and
    # after-response work are torn down when the parent's response is closed (after
    # streaming, for a streamed body).
    out._closed = True
    c = _current_or_none()
    child = out.ctx
    if (
        c is not None
        and child is not None
        and (child._scoped or child._after_response or child.request._cache)
    ):
        pending = c._after_response or []
        pending.append((dispatch._teardown_sync, (child,), {}))
        c._after_response = pending
    return res


def _norm_prefix(prefix: str) -> str:
    segments = [p for p in prefix.split("/") if p]
    return "/" + "/".join(segments) + "/" if segments else "/"
