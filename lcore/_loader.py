"""The app loader of every entry point: ``python -m lcore``, ``python -m lcore_asgi``,
``python -m lcore_ws`` and ``app.run("module:app")``.

An app spec is one of::

    module                 the module's ``app`` or ``application`` (``python -m lcore``
                           also takes a module that only registers routes on the
                           default app)
    path/to/file.py        the same, for a file
    module:attr.sub        a dotted attribute path (no dunders, nothing evaluated)
    module:create_app()    a factory, called with no arguments

The current directory is put on ``sys.path`` first, as uvicorn does. Errors are
:class:`AppLoadError` with a message that says which part was wrong: the module could
not be found, it has no such attribute, or the object is not an app.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from typing import Any

from ._utils import _is_dunder

__all__ = ["AppLoadError", "load_app", "resolve_app"]

_DEFAULT_ATTRS = ("app", "application")


class AppLoadError(ImportError, ValueError):
    """An app spec could not be turned into an app; the message says what to fix.

    Also an ImportError and a ValueError, so ``except`` clauses written for either (the
    embedded server's old ``AppImportError`` was an ImportError) keep working.
    """


def resolve_app(spec: str, *, default_app_fallback: bool = False) -> Any:
    """Import the object ``spec`` names (see the module docstring), without checking it.

    An ImportError raised while the app's own module runs (a missing dependency of the
    app) propagates unchanged; only a missing module named by ``spec`` is reported as an
    :class:`AppLoadError`.
    """
    module_part, colon, attr = spec.partition(":")
    if not module_part:
        raise AppLoadError(f"invalid app spec {spec!r}: expected 'module:attribute'")
    factory = attr.endswith("()")
    if factory:
        attr = attr[:-2]
    parts = attr.split(".") if attr else []
    if (colon and not parts) or any(not p.isidentifier() or _is_dunder(p) for p in parts):
        raise AppLoadError(
            f"invalid app spec {spec!r}: after ':' give a dotted attribute name, optionally "
            "followed by '()' to call a factory (e.g. 'myapp:app' or 'myapp:create_app()')"
        )
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    fallback = None
    if not parts and default_app_fallback:
        # A module that only does ``from lcore import route`` registers on the default
        # app; a fresh one is pushed so the routes can be found after the import.
        from .app import default_app

        fallback = default_app.push()
    try:
        module = _import(module_part, spec)
    finally:
        if fallback is not None:
            from .app import default_app

            default_app.remove(fallback)
    if not parts:
        obj = _default_attr(module, spec, fallback)
    else:
        obj = module
        for i, part in enumerate(parts):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                where = f"module {module.__name__!r}" if i == 0 else repr(".".join(parts[:i]))
                raise AppLoadError(
                    f"{where} has no attribute {part!r} (from app spec {spec!r})"
                ) from None
    if factory:
        if not callable(obj):
            raise AppLoadError(f"{spec!r}: {attr!r} is not a factory function")
        obj = obj()
    from .app import AppStack

    if isinstance(obj, AppStack):  # ``lcore:default_app``: the app on top of the stack
        obj = obj()
    return obj


def load_app(
    spec: Any, *, protocol: str = "any", default_app_fallback: bool = False, why: str | None = None
) -> Any:
    """Resolve ``spec`` (a spec string or an app) and check that the result is an app.

    ``protocol`` is ``'any'`` (a WSGI or ASGI callable), ``'asgi'`` (``scope, receive,
    send``) or ``'lcore'`` (an :class:`~lcore.Lcore` app, as the WebSocket server needs).
    A plain function such as a route handler is refused here, at start-up, rather than
    failing on every request. ``why`` ends the message when an Lcore app is required.
    """
    label = spec if isinstance(spec, str) else None
    app = resolve_app(spec, default_app_fallback=default_app_fallback) if label else spec
    check_app(app, label, protocol, why)
    return app


def check_app(app: Any, spec: str | None, protocol: str = "any", why: str | None = None) -> None:
    """Raise :class:`AppLoadError` unless ``app`` can be served as ``protocol``.

    ``spec`` is the app spec the user typed (None when the app object was given).
    """
    from .app import Lcore

    if isinstance(app, Lcore):
        return
    what = _describe(app)
    subject = f"{spec!r} is {what}, not" if spec else f"{what[:1].upper()}{what[1:]} is not"
    if protocol == "lcore":
        why = why or "the WebSocket server serves an Lcore() app's @app.websocket routes"
        raise AppLoadError(f"{subject} an Lcore app: {why}")
    arity = {"any": (2, 3), "asgi": (3,)}[protocol]
    wanted = "an ASGI app (scope, receive, send)" if protocol == "asgi" else "a WSGI or ASGI app"
    hint = ""
    if isinstance(app, type):
        hint = "; create the app in the module (app = ...) and name that"
    elif callable(app):
        accepts = _positional_counts(app)
        if accepts is None or any(accepts[0] <= n <= accepts[1] for n in arity):
            return
        if accepts[0] == 0 and spec and ":" in spec:
            hint = f"; if it builds the app, call it as a factory: '{spec}()'"
    raise AppLoadError(f"{subject} {wanted}{hint}")


def _import(name: str, spec: str) -> Any:
    if name.endswith(".py"):
        return _import_file(name, spec)
    if not all(part.isidentifier() for part in name.split(".")):
        raise AppLoadError(f"invalid module name {name!r} in app spec {spec!r}")
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # Only the module the spec names (or a package on its path); a module the app
        # itself imports is the app's error and keeps its own message and traceback.
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise AppLoadError(
                f"could not import module {name!r} for app spec {spec!r} "
                "(run from the directory containing it, or check the spelling)"
            ) from exc
        raise


def _import_file(path: str, spec: str) -> Any:
    if not os.path.isfile(path):
        raise AppLoadError(f"file {path!r} not found (from app spec {spec!r})")
    name = os.path.splitext(os.path.basename(path))[0]
    directory = os.path.dirname(os.path.abspath(path))
    loaded = sys.modules.get(name)
    if loaded is not None and os.path.abspath(getattr(loaded, "__file__", "") or "") == (
        os.path.abspath(path)
    ):
        return loaded
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise AppLoadError(f"cannot load {path!r} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _default_attr(module: Any, spec: str, fallback: Any) -> Any:
    for name in _DEFAULT_ATTRS:
        if hasattr(module, name):
            return getattr(module, name)
    if fallback is not None and getattr(fallback, "routes", None):
        return fallback
    raise AppLoadError(
        f"module {module.__name__!r} has no 'app' or 'application' (from app spec {spec!r}); "
        f"name the app: '{spec}:<name>'"
    )


def _positional_counts(func: Any) -> tuple[int, float] | None:
    """(required, most) positional arguments ``func`` takes; None if unknown."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    required, most = 0, 0.0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            most = float("inf")
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            most += 1
            required += p.default is p.empty
        elif p.kind is p.KEYWORD_ONLY and p.default is p.empty:
            return (99, 0)  # a required keyword-only argument: no server passes it
    return required, most


def _describe(obj: Any) -> str:
    if isinstance(obj, type):
        return f"the class {obj.__qualname__}"
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        try:
            params = inspect.signature(obj).parameters.values()
        except (TypeError, ValueError):  # pragma: no cover - functions have signatures
            return f"the function {obj.__qualname__}"
        names = [
            ("*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else "")
            + p.name
            for p in params
        ]
        return f"the function {obj.__qualname__}({', '.join(names)})"
    kind = type(obj).__name__
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind} object"
