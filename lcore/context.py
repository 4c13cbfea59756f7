"""The per-request context: ``ctx``, ``request`` and ``response`` proxies.

They are backed by one context variable, so they are right in threads, in asyncio
tasks, and in a worker thread a sync handler is sent to (the context travels with it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._ctxvar import current as _current
from ._ctxvar import current_context
from .response import BaseResponse

if TYPE_CHECKING:  # pragma: no cover
    from .request import BaseRequest

__all__ = [
    "RequestContext",
    "ctx",
    "request",
    "response",
    "LocalRequest",
    "LocalResponse",
    "current_context",
]

_MISSING = object()


class _LazyResponse:
    """Stands in for ``ctx.response`` until it is first used (then it is made)."""

    __slots__ = ("content_type",)

    def __init__(self, content_type: str | None) -> None:
        self.content_type = content_type  # what a made-later response says was sent

    def __repr__(self) -> str:
        return "<made on first use>"


#: Passed as ``resp`` by the dispatcher: ``ctx.response`` is made on first use. A handler
#: that never touches it gets the default response (200, default content type) without
#: the object being built (PERF: most handlers only return a body).
LAZY_RESPONSE: Any = _LazyResponse(None)
#: Left in place of LAZY_RESPONSE once a JSON body was sent without the object: a response
#: made afterwards (say, in an ``after_response`` task) says ``application/json``.
LAZY_JSON_RESPONSE: Any = _LazyResponse("application/json")


class RequestContext:
    """State carried through one request: request, response, app, route, user, state.

    Any other attribute set on it lives in ``state``; injected dependencies are
    resolved by name (``ctx.db``) and ``lazy(name, factory)`` values are computed on
    first access.
    """

    # PERF: no ``__setattr__``/``__delattr__`` override (either makes every assignment a
    # Python call: they share one type slot). The
    # named fields are slots; any other attribute lands in the instance ``__dict__``,
    # which *is* ``state``. Unset slots read as their defaults (``_DEFAULTS``).
    __slots__ = (
        "request",
        "_response",
        "app",
        "route",
        "request_id",
        "user",
        "_lazy",
        "_scoped",
        "_module_chain",
        "_after_response",
        "__dict__",
        "__weakref__",
    )

    request: Any
    _response: Any
    app: Any
    route: Any
    request_id: str | None
    user: Any
    _lazy: dict[str, Any] | None
    _scoped: dict[str, Any] | None
    _module_chain: tuple[Any, ...]
    _after_response: list[Any] | None

    def __init__(self, req: Any = None, resp: Any = None, app: Any = None) -> None:
        self.request = req
        self._response = resp
        self.app = app
        self._scoped = None
        self._module_chain = ()
        self._after_response = None

    @property
    def response(self) -> Any:
        """The response being built (made on first use when the dispatcher asked for that)."""
        resp = self._response
        if type(resp) is _LazyResponse:
            made = self._response = BaseResponse()
            if resp.content_type is not None:
                made._headers["Content-Type"] = [resp.content_type]
            return made
        return resp

    @response.setter
    def response(self, value: Any) -> None:
        self._response = value

    @property
    def state(self) -> dict[str, Any]:
        """Per-request state: every attribute set on ``ctx`` that is not a named field."""
        return self.__dict__

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        # Sharing one dict (a mounted child's ctx and its parent's) shares the state.
        self.__dict__ = value

    def after_response(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` (sync or async) once the response has been sent.

        Tasks run in the order they were added, after the last byte of the body (also
        of a streamed body) has gone to the server, under WSGI and ASGI alike. A task
        that fails is logged to ``lcore.error``; the client never sees it.
        """
        tasks = self._after_response
        if tasks is None:
            tasks = []
            self._after_response = tasks
        tasks.append((fn, args, kwargs))

    def lazy(self, name: str, factory: Any) -> None:
        """Register ``factory`` to compute attribute ``name`` once, on first access."""
        if self._lazy is None:
            self._lazy = {}
        self._lazy[name] = factory
        self.state.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: unset slots, lazy values, then
        # dependencies (own app, then the apps this one is mounted in).
        value = self._resolve(name)
        if value is _MISSING:
            raise AttributeError(f"RequestContext has no attribute {name!r}")
        return value

    def _resolve(self, name: str) -> Any:
        """What ``ctx.<name>`` is when it is not a set slot or in ``state``; ``_MISSING``
        when nothing provides it."""
        if name in _DEFAULTS:
            return _DEFAULTS[name]
        lazy = self._lazy
        if lazy and name in lazy:
            value = self.__dict__[name] = lazy.pop(name)()
            return value
        app = self.app
        if app is not None:
            container = app._container
            if name in container:
                return container.resolve(name, self)
        # Closest enclosing app first (the chain is stored outermost first).
        for parent, _prefix, pctx in reversed(self._module_chain):
            if name in parent._container:
                return parent._container.resolve(name, pctx)
        return _MISSING

    def __contains__(self, name: str) -> bool:
        return name in self.state

    def get(self, name: str, default: Any = None) -> Any:
        """Return ``ctx.<name>`` or ``default`` when it is not set."""
        # PERF: a miss is answered without raising (and catching) an AttributeError.
        state = self.__dict__
        if name in state:
            return state[name]
        if name in _CLASS_NAMES:
            return getattr(self, name)
        value = self._resolve(name)
        return default if value is _MISSING else value

    def __repr__(self) -> str:
        req = self.request
        where = f"{req.method} {req.path}" if req is not None else "no request"
        return f"<RequestContext {where}>"


#: Slots, properties and methods: ``ctx.get`` reads these the ordinary way.
_CLASS_NAMES = frozenset(name for klass in RequestContext.__mro__ for name in vars(klass))
_DEFAULTS: dict[str, Any] = {
    "route": None,
    "request_id": None,
    "user": None,
    "_lazy": None,
    "_scoped": None,
    "_module_chain": (),
    "_after_response": None,
}


def _get_ctx() -> RequestContext:
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError(
            "Working outside of a request: `ctx`, `request` and `response` are only "
            "available while a request is being handled."
        ) from None


def _set_ctx(c: RequestContext) -> Any:
    return _current.set(c)


def _reset_ctx(token: Any) -> None:
    try:
        _current.reset(token)
    except ValueError:
        # The token was made in another context (e.g. a generator resumed elsewhere).
        pass


_current_or_none = current_context


class _Proxy:
    """Forward attribute and item access to an object found through the context var."""

    __slots__ = ("_target_attr",)

    def __init__(self, attr: str | None) -> None:
        object.__setattr__(self, "_target_attr", attr)

    def _lc_target(self) -> Any:
        c = _current.get(None)
        if c is None:
            _get_ctx()  # raises the helpful error
        attr = object.__getattribute__(self, "_target_attr")
        return c if attr is None else getattr(c, attr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lc_target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._lc_target(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._lc_target(), name)

    def __getitem__(self, key: Any) -> Any:
        return self._lc_target()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._lc_target()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._lc_target()[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._lc_target()

    def __iter__(self) -> Any:
        return iter(self._lc_target())

    def __len__(self) -> int:
        return len(self._lc_target())

    def __bool__(self) -> bool:
        return _current.get(None) is not None

    def __repr__(self) -> str:
        c = _current.get(None)
        if c is None:
            return f"<unbound {type(self).__name__}>"
        return repr(self._lc_target())


class LocalRequest(_Proxy):
    """The ``request`` proxy: the current request's :class:`BaseRequest`."""

    __slots__ = ()


class LocalResponse(_Proxy):
    """The ``response`` proxy: the current request's :class:`BaseResponse`."""

    __slots__ = ()


class _CtxProxy(_Proxy):
    __slots__ = ()


#: The current :class:`RequestContext`.
ctx: RequestContext = _CtxProxy(None)  # type: ignore[assignment]
"""The current request's :class:`RequestContext` (``ctx.request``, ``ctx.user``, injected dependencies)."""
#: The current request.
request: BaseRequest = LocalRequest("request")  # type: ignore[assignment]
"""The current request: a context-local proxy to a :class:`BaseRequest`."""
#: The current response.
response: BaseResponse = LocalResponse("response")  # type: ignore[assignment]
"""The current response: a context-local proxy to a :class:`BaseResponse`."""
