"""Signals: tell any number of receivers that something happened, without knowing them.

A :class:`Signal` keeps a list of receivers. ``connect(receiver, sender=None)`` adds
one (as a decorator too); ``send(sender, **kw)`` calls each receiver whose ``sender``
filter matches as ``receiver(sender, **kw)`` and returns ``[(receiver, result), ...]``;
``send_robust`` does the same but captures a receiver's exception as its result.

Receivers may be ``def`` or ``async def``, under both protocols:

- ``send`` / ``send_robust`` are for blocking code: a sync receiver is called where the
  signal is sent; an async one runs on an event loop and ``send`` waits for it (under
  WSGI the process's persistent loop, under ASGI from a worker thread the server's loop,
  as for ``async def`` hooks). Called on an event loop with an async receiver connected,
  ``send`` raises: use ``await signal.asend(...)`` there.
- ``await asend`` / ``await asend_robust`` are for async code: async receivers are
  awaited, sync ones run in a worker thread so they never block the loop.

The built-in signals below are sent by every :class:`~lcore.Lcore` app from its
existing hooks, with the app as ``sender``. A signal with no receiver adds nothing to a
request: the hook that sends it exists only while a receiver for that app is connected.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

from . import _bridge
from .context import _current_or_none

__all__ = [
    "Signal",
    "request_started",
    "request_finished",
    "got_exception",
    "startup",
    "shutdown",
]

_log = logging.getLogger("lcore.signals")


class Signal:
    """A named event that receivers connect to; ``send`` calls them.

    ``Signal('order_paid')``; receivers are ``fn(sender, **kw)``. Receivers are kept
    by strong reference (disconnect them to drop them) and called in connection order.
    """

    def __init__(self, name: str, doc: str | None = None) -> None:
        self.name = name
        if doc:
            self.__doc__ = doc
        # (receiver, sender filter or None, is_async); replaced whole, never mutated,
        # so a send running in another thread sees a consistent list.
        self._receivers: tuple[tuple[Callable[..., Any], Any, bool], ...] = ()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Signal {self.name!r} receivers={len(self._receivers)}>"

    @property
    def receivers(self) -> list[Callable[..., Any]]:
        """The connected receivers, in the order they are called."""
        return [r for r, _s, _a in self._receivers]

    def has_receivers_for(self, sender: Any) -> bool:
        """Whether ``send(sender)`` would call anything."""
        return any(s is None or s is sender for _r, s, _a in self._receivers)

    def connect(self, receiver: Callable[..., Any] | None = None, sender: Any = None) -> Any:
        """Connect ``receiver(sender, **kw)``; only for ``sender`` when one is given.

        Usable as ``@signal.connect`` and ``@signal.connect(sender=app)``; returns the
        receiver. Connecting the same receiver for the same sender twice is a no-op.
        """
        if receiver is None:
            return functools.partial(self.connect, sender=sender)
        if not callable(receiver):
            raise TypeError(f"signal receivers must be callable, got {receiver!r}")
        with self._lock:
            if any(r == receiver and s is sender for r, s, _a in self._receivers):
                return receiver
            self._receivers = (
                *self._receivers,
                (receiver, sender, _bridge.is_async_callable(receiver)),
            )
        self._changed()
        return receiver

    def disconnect(self, receiver: Callable[..., Any], sender: Any = None) -> bool:
        """Disconnect ``receiver`` (connected for ``sender``); True if it was connected."""
        with self._lock:
            kept = tuple(e for e in self._receivers if not (e[0] == receiver and e[1] is sender))
            removed = len(kept) != len(self._receivers)
            self._receivers = kept
        if removed:
            self._changed()
        return removed

    def _live(self, sender: Any) -> list[tuple[Callable[..., Any], bool]]:
        return [(r, a) for r, s, a in self._receivers if s is None or s is sender]

    def _changed(self) -> None:
        if self in _BUILTIN:
            _rewire_all(self)

    # -- blocking code ------------------------------------------------------------------
    def send(self, sender: Any = None, **kwargs: Any) -> list[tuple[Callable[..., Any], Any]]:
        """Call the receivers for ``sender``; returns ``[(receiver, result), ...]``.

        A receiver's exception propagates (the receivers after it are not called).
        """
        out = []
        for fn, is_async in self._live(sender):
            out.append((fn, self._call(fn, is_async, sender, kwargs)))
        return out

    def send_robust(
        self, sender: Any = None, **kwargs: Any
    ) -> list[tuple[Callable[..., Any], Any]]:
        """Like :meth:`send`, but a receiver's exception is logged and returned as its result."""
        out: list[tuple[Callable[..., Any], Any]] = []
        for fn, is_async in self._live(sender):
            try:
                out.append((fn, self._call(fn, is_async, sender, kwargs)))
            except Exception as e:
                _log.exception("receiver %r of signal %r failed", fn, self.name)
                out.append((fn, e))
        return out

    def _call(
        self, fn: Callable[..., Any], is_async: bool, sender: Any, kwargs: dict[str, Any]
    ) -> Any:
        if is_async and _bridge.on_event_loop():
            raise RuntimeError(
                f"signal {self.name!r} has an async receiver ({_qualname(fn)}) and send() was called "
                "on an event loop, which it would block; use `await signal.asend(...)` there"
            )
        rv = fn(sender, **kwargs)
        if is_async or _isawaitable(rv):
            if _bridge.on_event_loop():  # pragma: no cover - a sync function returning a coroutine
                rv.close()
                raise RuntimeError(
                    f"signal {self.name!r}: use `await signal.asend(...)` on an event loop"
                )
            rv = _bridge.resolve_sync(rv)
        return rv

    # -- async code ---------------------------------------------------------------------
    async def asend(
        self, sender: Any = None, **kwargs: Any
    ) -> list[tuple[Callable[..., Any], Any]]:
        """Async :meth:`send`: async receivers are awaited, sync ones run in a worker thread."""
        out = []
        for fn, is_async in self._live(sender):
            out.append((fn, await self._acall(fn, is_async, sender, kwargs)))
        return out

    async def asend_robust(
        self, sender: Any = None, **kwargs: Any
    ) -> list[tuple[Callable[..., Any], Any]]:
        """Async :meth:`send_robust`."""
        out: list[tuple[Callable[..., Any], Any]] = []
        for fn, is_async in self._live(sender):
            try:
                out.append((fn, await self._acall(fn, is_async, sender, kwargs)))
            except Exception as e:
                _log.exception("receiver %r of signal %r failed", fn, self.name)
                out.append((fn, e))
        return out

    @staticmethod
    async def _acall(
        fn: Callable[..., Any], is_async: bool, sender: Any, kwargs: dict[str, Any]
    ) -> Any:
        if is_async:
            return await fn(sender, **kwargs)
        rv = await _bridge.run_sync(_current_or_none(), functools.partial(fn, sender, **kwargs))
        if _isawaitable(rv):
            rv = await rv
        return rv


def _isawaitable(value: Any) -> bool:
    return hasattr(value, "__await__")


def _qualname(fn: Any) -> str:
    return str(getattr(fn, "__qualname__", None) or repr(fn))


request_started = Signal(
    "request_started",
    "Sent when a request starts (the ``on_request_start`` hook): ``receiver(app, request=request)``.",
)
request_finished = Signal(
    "request_finished",
    "Sent when a response is about to be sent (the ``on_response_send`` hook), errors included: "
    "``receiver(app, request=request, response=response)``.",
)
got_exception = Signal(
    "got_exception",
    "Sent when an unhandled exception became a 500 (from the response hooks, before "
    "``request_finished``): ``receiver(app, exception=exc, request=request)``. Sent with "
    "``send_robust``: a failing receiver is logged and cannot break the error page.",
)
startup = Signal(
    "startup",
    "Sent once per process when the app starts (ASGI lifespan startup, or the first "
    "request under WSGI), after its components started: ``receiver(app)``.",
)
shutdown = Signal(
    "shutdown",
    "Sent once per process when the app stops (ASGI lifespan shutdown, or process exit "
    "under WSGI), before its components stop: ``receiver(app)``.",
)

# -- sending the built-in signals from an app's hooks --------------------------------------

#: Per-request signals and the hook each is sent from.
_REQUEST_HOOKS = {
    request_started: "on_request_start",
    request_finished: "on_response_send",
    got_exception: "on_response_send",
}
_BUILTIN = (request_started, request_finished, got_exception, startup, shutdown)

_wiring_lock = threading.RLock()
#: Every app made in this process (an app that is collected drops out).
_apps: weakref.WeakSet[Any] = weakref.WeakSet()
#: app -> {signal name or "lifecycle": the hook function installed for it}
_wired: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
#: app -> pid of the process in which it is started (and not yet shut down).
_up: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
#: apps whose start and stop a component manager runs (it sends startup/shutdown itself).
_managed: weakref.WeakSet[Any] = weakref.WeakSet()
#: (id(app), pid) pairs with an exit callback registered.
_exit_registered: set[tuple[int, int]] = set()


def _track_app(app: Any) -> None:
    """Called by every new app: wire the built-in signals that already have receivers."""
    with _wiring_lock:
        _apps.add(app)
        for sig in _BUILTIN:
            if sig._receivers:
                _rewire(app, sig)


def _rewire_all(sig: Signal) -> None:
    with _wiring_lock:
        for app in list(_apps):
            _rewire(app, sig)


def _rewire(app: Any, sig: Signal) -> None:
    wired = _wired.setdefault(app, {})
    if sig in _REQUEST_HOOKS:
        live = sig._live(app)
        want_async = any(a for _r, a in live)
        current = wired.get(sig.name)
        if current is not None and (not live or current._lcore_async != want_async):
            app.remove_hook(_REQUEST_HOOKS[sig], current)
            del wired[sig.name]
            current = None
        if live and current is None:
            hook = _request_hook(app, sig, want_async)
            app.add_hook(_REQUEST_HOOKS[sig], hook)
            wired[sig.name] = hook
        return
    # startup and shutdown: one pair of hooks while either has a receiver for the app.
    need = startup.has_receivers_for(app) or shutdown.has_receivers_for(app)
    pair = wired.get("lifecycle")
    if need and pair is None:
        up, down = _lifecycle_hooks(app)
        app.add_hook("startup", up)
        # First among the shutdown hooks: receivers hear it before anything is torn down.
        app._hooks.setdefault("shutdown", []).insert(0, down)
        app._rebuild_hook_plan()
        wired["lifecycle"] = (up, down)
    elif not need and pair is not None:
        app.remove_hook("startup", pair[0])
        app.remove_hook("shutdown", pair[1])
        del wired["lifecycle"]


def _request_hook(app: Any, sig: Signal, is_async: bool) -> Any:
    """The hook that sends ``sig`` for ``app`` (async only when a receiver is)."""
    if sig is got_exception:

        def exc_args() -> dict[str, Any] | None:
            c = _current_or_none()
            exc = c.request._cache.get("exc") if c is not None else None
            return None if exc is None else {"exception": exc, "request": c.request}

        if is_async:

            async def send_exc_async() -> None:
                kw = exc_args()
                if kw is not None:
                    await sig.asend_robust(app, **kw)

            hook: Any = send_exc_async
        else:

            def send_exc() -> None:
                kw = exc_args()
                if kw is not None:
                    sig.send_robust(app, **kw)

            hook = send_exc
    else:
        with_response = sig is request_finished

        def args() -> dict[str, Any]:
            c = _current_or_none()
            if c is None:
                return {"request": None}
            return (
                {"request": c.request, "response": c.response}
                if with_response
                else {"request": c.request}
            )

        if is_async:

            async def send_async() -> None:
                await sig.asend(app, **args())

            hook = send_async
        else:

            def send_sync() -> None:
                sig.send(app, **args())

            hook = send_sync
    hook.__qualname__ = hook.__name__ = f"signal {sig.name}"
    hook._lcore_async = is_async
    return hook


def _lifecycle_hooks(app: Any) -> tuple[Any, Any]:
    ref = weakref.ref(app)

    async def signal_startup() -> None:
        a = ref()
        if a is not None and a not in _managed:
            await send_startup(a)

    async def signal_shutdown() -> None:
        a = ref()
        if a is not None and a not in _managed:
            await send_shutdown(a)

    return signal_startup, signal_shutdown


async def send_startup(app: Any) -> None:
    """Mark ``app`` started in this process and send :data:`startup` (once until shutdown).

    Under WSGI nothing marks the end of a process but its exit: ``shutdown`` is then sent
    at interpreter exit. (Component managers call this; apps need not.)
    """
    pid = os.getpid()
    with _wiring_lock:
        if _up.get(app) == pid:
            return
        _up[app] = pid
        key = (id(app), pid)
        first = key not in _exit_registered
        _exit_registered.add(key)
    if first:
        atexit.register(_shutdown_at_exit, weakref.ref(app))
    await startup.asend(app)


async def send_shutdown(app: Any) -> None:
    """Send :data:`shutdown` for ``app`` if it was started in this process (once)."""
    with _wiring_lock:
        if _up.get(app) != os.getpid():
            return
        del _up[app]
    await shutdown.asend_robust(app)


def _shutdown_at_exit(ref: Any) -> None:
    app = ref()
    if app is None or _up.get(app) != os.getpid():
        return
    if app in _managed:
        return  # the component manager's own exit callback sends it
    try:
        _bridge.resolve_sync(send_shutdown(app))
    except Exception:
        _log.exception("sending the shutdown signal at exit failed")
