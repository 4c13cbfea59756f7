"""Middleware: ``Middleware`` (wraps the rest of the request), ``MiddlewareHook``
(pre/post callbacks) and the ordered ``MiddlewarePipeline`` of an app."""

from __future__ import annotations

import re
from typing import Any

from .._bridge import is_async_callable

__all__ = ["Middleware", "MiddlewareHook", "MiddlewarePipeline"]


class Middleware:
    """Base class for middleware: ``__call__(ctx, next_handler)`` returns the result.

    ``name`` identifies it (routes can ``skip=`` it; ``None`` unless a subclass sets
    it), ``order`` sorts it (lower runs earlier, equal orders keep insertion order),
    ``phase`` is ``'pre'`` (before routing) or ``'post'`` (around the handler). ``__call__`` may be ``async def``; then
    ``await next_handler(ctx)``. Subclasses need not call ``super().__init__()``.

    A middleware may have both a sync ``__call__`` and an ``async def acall(ctx,
    next_handler)``: requests whose handler is async (or that run on the event loop)
    use ``acall``, the others ``__call__``, so neither kind pays a thread hop.
    """

    name: str | None = None
    order: int = 50
    phase: str = "post"

    def __call__(self, ctx: Any, next_handler: Any) -> Any:
        return next_handler(ctx)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} order={self.order} phase={self.phase!r}>"


class MiddlewareHook(Middleware):
    """Middleware as two callbacks: ``pre(ctx)`` and ``post(ctx, result)``.

    ``pre`` may return a response (anything a handler may return) to answer at once;
    ``post`` returns the result to send (usually the one it was given). Either may be
    ``async def``. Being non-wrapping, hooks need no thread hop for the rest of the chain.
    """

    def pre(self, ctx: Any) -> Any:
        return None

    def post(self, ctx: Any, result: Any) -> Any:
        return result


class _Entry:
    __slots__ = (
        "mw",
        "order",
        "seq",
        "matcher",
        "is_async",
        "is_hook",
        "pre_async",
        "post_async",
        "inline",
        "dual",
        "has_pre",
        "has_post",
    )

    def __init__(self, mw: Any, order: int, seq: int, matcher: Any) -> None:
        self.mw = mw
        self.order = order
        self.seq = seq
        self.matcher = matcher
        self.is_hook = isinstance(mw, MiddlewareHook)
        self.is_async = (not self.is_hook) and is_async_callable(mw)
        # A sync ``__call__`` plus an ``async def acall``: the pipeline picks per request.
        self.dual = (
            (not self.is_hook)
            and (not self.is_async)
            and is_async_callable(getattr(mw, "acall", None))
        )
        self.pre_async = self.is_hook and is_async_callable(mw.pre)
        self.post_async = self.is_hook and is_async_callable(mw.post)
        # Built-in middleware that never blocks may run on the event loop directly.
        self.inline = bool(getattr(mw, "_lcore_nonblocking", False))
        # PERF: a hook that keeps MiddlewareHook's do-nothing pre or post is not called
        # for it (BodyLimit has only a pre, SecurityHeaders only a post).
        own = getattr(mw, "__dict__", {})
        self.has_pre = self.is_hook and ("pre" in own or type(mw).pre is not MiddlewareHook.pre)
        self.has_post = self.is_hook and ("post" in own or type(mw).post is not MiddlewareHook.post)


def _make_matcher(routes: Any) -> Any:
    """Turn ``routes=`` into a predicate on the path, or None for every path.

    A string is a regular expression matched with ``re.match`` (anchored at the start
    only, as in Lcore 0.0.4): ``r'^/api/'`` is every path under ``/api/``, and
    ``'/api/*'`` is ``/api`` followed by any number of slashes, so it also matches
    ``/apix``. A compiled pattern works the same; a list or tuple matches when any
    of its patterns does.
    """
    if routes is None:
        return None
    if isinstance(routes, (str, re.Pattern)):
        routes = [routes]
    pats = []
    for r in routes:
        if isinstance(r, re.Pattern):
            pats.append(r)
            continue
        if not isinstance(r, str):
            raise TypeError(f"routes= takes regular expressions (str or re.Pattern), got {r!r}")
        try:
            pats.append(re.compile(r))
        except re.error as e:
            raise ValueError(f"routes={r!r} is not a valid regular expression: {e}") from None
    if len(pats) == 1:
        match = pats[0].match
        return lambda path: match(path) is not None
    return lambda path: any(p.match(path) for p in pats)


class MiddlewarePipeline:
    """The app's middleware, sorted by ``order`` (insertion order breaks ties)."""

    def __init__(self, app: Any = None) -> None:
        self.app = app
        self._entries: list[_Entry] = []
        self._seq = 0
        self.pre: tuple[_Entry, ...] = ()
        self.post: tuple[_Entry, ...] = ()
        self.pre_filtered = False

    def add(self, mw: Any, routes: Any = None, order: int | None = None) -> Any:
        """Add middleware (a Middleware or any ``callable(ctx, next_handler)``)."""
        if not callable(mw) and not isinstance(mw, MiddlewareHook):
            raise TypeError(f"middleware must be callable, got {mw!r}")
        if order is None:
            order = getattr(mw, "order", 50)
        else:
            # As in Lcore 0.0.4, ``use(mw, order=N)`` sets ``mw.order`` too.
            try:
                mw.order = order
            except AttributeError:  # a callable that takes no attributes
                pass
        self._seq += 1
        self._entries.append(_Entry(mw, int(order), self._seq, _make_matcher(routes)))
        self._rebuild()
        return mw

    def remove(self, mw: Any) -> bool:
        """Remove middleware by object, type or name; True when something was removed."""
        before = len(self._entries)
        self._entries = [
            e
            for e in self._entries
            if not (
                e.mw is mw
                or (isinstance(mw, type) and isinstance(e.mw, mw))
                or (isinstance(mw, str) and getattr(e.mw, "name", None) == mw)
            )
        ]
        self._rebuild()
        return len(self._entries) != before

    def _rebuild(self) -> None:
        entries = sorted(self._entries, key=lambda e: (e.order, e.seq))
        self.pre = tuple(e for e in entries if getattr(e.mw, "phase", "post") == "pre")
        self.post = tuple(e for e in entries if getattr(e.mw, "phase", "post") != "pre")
        self.pre_filtered = any(e.matcher is not None for e in self.pre)
        app = self.app
        if app is not None:
            app._invalidate_plans()

    def pre_for(self, path: str) -> tuple[_Entry, ...]:
        """The pre-routing middleware that apply to ``path``."""
        if not self.pre_filtered:
            return self.pre
        return tuple(e for e in self.pre if e.matcher is None or e.matcher(path))

    def post_for_route(self, route: Any) -> tuple[tuple[_Entry, ...], bool]:
        """The post-routing middleware for ``route`` and whether any has ``routes=``.

        A route's ``skip=`` list removes middleware named in it (by name, object or
        type); ``skip=True`` removes plugins only, as in Lcore 0.0.4.
        """
        skip = route.skiplist
        out = []
        for e in self.post:
            mw = e.mw
            if skip and (
                getattr(mw, "name", None) in skip or any(s is mw or s is type(mw) for s in skip)
            ):
                continue
            out.append(e)
        return tuple(out), any(e.matcher is not None for e in out)

    def __iter__(self) -> Any:
        return iter(e.mw for e in sorted(self._entries, key=lambda e: (e.order, e.seq)))

    def __len__(self) -> int:
        return len(self._entries)

    def show(self) -> list[dict[str, Any]]:
        """Describe the middleware in run order (name, type, order, phase, routes)."""
        return [
            {
                "name": getattr(e.mw, "name", None) or type(e.mw).__name__,
                "type": type(e.mw).__name__,
                "order": e.order,
                "phase": getattr(e.mw, "phase", "post"),
                "routes": e.matcher is not None,
                "async": e.is_async or e.pre_async or e.post_async,
            }
            for e in sorted(self._entries, key=lambda e: (e.order, e.seq))
        ]
