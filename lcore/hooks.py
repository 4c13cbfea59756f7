"""Hooks of an app: named callback lists run at points of the request and app life.

:class:`Hooks` is a part of :class:`lcore.Lcore` (the app object is composed of such
parts, one noun each); its methods are documented there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._bridge import is_async_callable

__all__ = ["Hooks", "KNOWN_HOOKS", "REVERSED_HOOKS"]

#: Hooks run in reverse registration order (the "outer" half of the request).
REVERSED_HOOKS = frozenset(
    ("on_handler_exit", "on_response_build", "after_request", "on_response_send")
)
#: Hooks that run for every request (their plan is kept per app, see ``_hook_plan``).
_PER_REQUEST_HOOKS = frozenset(
    (
        "on_request_start",
        "before_request",
        "on_auth_resolved",
        "on_handler_enter",
        "on_handler_exit",
        "on_response_build",
        "after_request",
        "on_response_send",
    )
)
#: Hook names with a meaning to lcore (others may be used freely with trigger_hook).
KNOWN_HOOKS = _PER_REQUEST_HOOKS | {
    "on_module_mount",
    "on_module_request",
    "app_reset",
    "config",
    "startup",
    "shutdown",
}


def attach(hooks: list[Callable[..., Any]], name: str, func: Callable[..., Any]) -> None:
    """Add ``func`` to a hook list in run order (the after-handler hooks run in reverse)."""
    if name in REVERSED_HOOKS:
        hooks.insert(0, func)
    else:
        hooks.append(func)


def call_all(hooks: list[Callable[..., Any]] | None, *args: Any, **kwargs: Any) -> list[Any] | None:
    """Call every hook of a list (async ones run to completion); None when there are none."""
    if not hooks:
        return None
    from ._bridge import resolve_sync

    return [resolve_sync(h(*args, **kwargs)) for h in hooks[:]]


def run_plan(hooks: dict[Any, list[Callable[..., Any]]], keep: Any = None) -> dict[Any, Any]:
    """``{key: ((func, is_async), ...)}`` for the non-empty hook lists (whose key ``keep`` accepts)."""
    return {
        key: tuple((f, is_async_callable(f)) for f in funcs)
        for key, funcs in hooks.items()
        if funcs and (keep is None or keep(key))
    }


class Hooks:
    """App hooks: ``add_hook``/``remove_hook``/``hook``/``trigger_hook``."""

    _hooks: dict[str, list[Callable[..., Any]]]
    _hook_plan: dict[str, tuple[tuple[Callable[..., Any], bool], ...]]

    if TYPE_CHECKING:

        def _invalidate_plans(self) -> None: ...

    def add_hook(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """Attach ``func`` to hook ``name`` (reverse order for the after-handler hooks)."""
        attach(self._hooks.setdefault(name, []), name, func)
        self._rebuild_hook_plan()
        return func

    def remove_hook(self, name: str, func: Callable[..., Any]) -> bool:
        """Detach ``func`` from hook ``name``; True if it was attached."""
        hooks = self._hooks.get(name)
        if hooks and func in hooks:
            hooks.remove(func)
            if not hooks:
                del self._hooks[name]
            self._rebuild_hook_plan()
            return True
        return False

    def _rebuild_hook_plan(self) -> None:
        self._hook_plan = run_plan(self._hooks, _PER_REQUEST_HOOKS.__contains__)
        self._invalidate_plans()

    def trigger_hook(self, name: str, *args: Any, **kwargs: Any) -> list[Any] | None:
        """Call every callback of hook ``name``; None when there are none.

        Async callbacks are run to completion (this is a blocking call).
        """
        return call_all(self._hooks.get(name), *args, **kwargs)

    def hook(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: attach a function to a hook (``@app.hook('before_request')``)."""

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_hook(name, func)
            return func

        return decorator
