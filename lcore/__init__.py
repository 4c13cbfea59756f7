"""lcore: one web framework, both server protocols.

The same ``app = Lcore()`` is a WSGI application (``gunicorn myapp:app``) and an ASGI
application (``uvicorn myapp:app``); handlers, middleware, hooks, plugins and
dependencies are written once. This package holds the protocol-neutral core, the WSGI
adapter and the batteries; ``lcore_asgi`` holds the ASGI adapter and the embedded
server; ``lcore_ws`` holds WebSockets.
"""

from __future__ import annotations

from typing import Any

from . import concurrency as _concurrency  # noqa: F401 - installs the loop/thread bridge
from ._utils import (
    _lscmp,  # noqa: F401 - private, imported by Lcore 0.0.4 code (constant-time compare)
    cached_property,
    cookie_decode,
    cookie_encode,
    cookie_is_encoded,
    html_escape,
    html_quote,
    http_date,
    json_dumps,
    json_loads,
    load,
    makelist,
    parse_auth,
    parse_date,
    parse_range_header,
    tob,
    touni,
)
from .app import AppStack, Lcore, app, default_app
from .cache import (
    Cache,
    CacheBackend,
    CacheUnavailable,
    MemoryCacheBackend,
    RedisCacheBackend,
    cache_control,
    cached,
)
from .components import Component, ComponentError
from .config import ConfigDict, load_dotenv
from .connection import HTTPConnection
from .context import LocalRequest, LocalResponse, RequestContext, ctx, request, response
from .datastructures import FormsDict, HeaderDict, MultiDict, WSGIHeaderDict
from .di import DependencyContainer
from .exceptions import (
    ConfigError,
    LcoreException,
    MultipartError,
    PluginError,
    RouteBuildError,
    RouteError,
    RouteReset,
    RouterUnknownModeError,
    RouteSyntaxError,
    TemplateError,
)
from .lifecycle import BackgroundTaskPool, on_shutdown
from .lifecycle import _callbacks as _shutdown_hooks  # noqa: F401 - private, for Lcore 0.0.4 code
from .lifecycle import run_shutdown as _run_shutdown_hooks  # noqa: F401 - private, for 0.0.4 code
from .metrics import Metrics
from .middleware import (
    BodyLimitMiddleware,
    CompressionMiddleware,
    ConditionalGetMiddleware,
    CORSMiddleware,
    CSRFMiddleware,
    Middleware,
    MiddlewareHook,
    MiddlewarePipeline,
    ProxyFixMiddleware,
    RequestIDMiddleware,
    RequestLoggerMiddleware,
    SecurityHeadersMiddleware,
    TimeoutMiddleware,
)
from .multipart import FileUpload
from .plugins import JSONPlugin, TemplatePlugin
from .profiling import Profiling
from .reloader import AsyncReloader, WatchdogReloader
from .request import BaseRequest
from .resources import ResourceManager
from .response import (
    HTTP_CODES,
    BaseResponse,
    HTTPError,
    HTTPResponse,
    abort,
    redirect,
    safe_redirect,
)
from .routing import Route, Router
from .security import (
    MemoryRateLimitBackend,
    RateLimitBackend,
    RedisRateLimitBackend,
    ValidationError,
    auth_basic,
    hash_password,
    rate_limit,
    validate_request,
    verify_password,
)
from .server import (
    AiohttpServer,
    AutoServer,
    BjoernServer,
    CherootServer,
    EventletServer,
    GeventServer,
    GunicornServer,
    HypercornServer,
    LcoreASGIServer,
    MeinheldServer,
    PasteServer,
    ServerAdapter,
    TornadoServer,
    TwistedServer,
    UvicornServer,
    WaitressServer,
    WSGIRefServer,
)
from .sessions import (
    CookieSessionStore,
    MemorySessionStore,
    RedisSessionStore,
    Session,
    SessionMiddleware,
    SessionStore,
    SessionUnavailable,
)
from .signals import Signal
from .sse import EventStream, ServerSentEvent, sse
from .static import static_file
from .templates import (
    TEMPLATE_PATH,
    TEMPLATES,
    BaseTemplate,
    SimpleTemplate,
    cheetah_template,
    cheetah_view,
    jinja2_template,
    jinja2_view,
    mako_template,
    mako_view,
    template,
    view,
)

__version__ = "1.0.0.dev0"
"""The version of lcore, lcore_asgi and lcore_ws (one distribution)."""
DEBUG = False
"""Debug mode of the default app, as last set by :func:`debug`."""

__all__ = [
    "__version__",
    "DEBUG",
    "Lcore",
    "AppStack",
    "app",
    "default_app",
    "request",
    "response",
    "ctx",
    "RequestContext",
    "LocalRequest",
    "LocalResponse",
    "BaseRequest",
    "HTTPConnection",
    "BaseResponse",
    "HTTPResponse",
    "HTTPError",
    "abort",
    "redirect",
    "safe_redirect",
    "HTTP_CODES",
    "Route",
    "Router",
    "ConfigDict",
    "load_dotenv",
    "DependencyContainer",
    "Middleware",
    "MiddlewareHook",
    "MiddlewarePipeline",
    "JSONPlugin",
    "TemplatePlugin",
    "MultiDict",
    "FormsDict",
    "HeaderDict",
    "WSGIHeaderDict",
    "FileUpload",
    "ResourceManager",
    "static_file",
    "TestClient",
    "TestResponse",
    "BackgroundTaskPool",
    "on_shutdown",
    "hash_password",
    "verify_password",
    "ProxyFixMiddleware",
    "TimeoutMiddleware",
    "BodyLimitMiddleware",
    "RequestIDMiddleware",
    "RequestLoggerMiddleware",
    "CORSMiddleware",
    "SecurityHeadersMiddleware",
    "CSRFMiddleware",
    "CompressionMiddleware",
    "auth_basic",
    "rate_limit",
    "RateLimitBackend",
    "MemoryRateLimitBackend",
    "RedisRateLimitBackend",
    "validate_request",
    "ValidationError",
    "template",
    "view",
    "TEMPLATE_PATH",
    "TEMPLATES",
    "BaseTemplate",
    "SimpleTemplate",
    "jinja2_template",
    "jinja2_view",
    "mako_template",
    "mako_view",
    "cheetah_template",
    "cheetah_view",
    "LcoreException",
    "RouteError",
    "RouteReset",
    "RouteSyntaxError",
    "RouteBuildError",
    "RouterUnknownModeError",
    "PluginError",
    "TemplateError",
    "MultipartError",
    "ConfigError",
    "tob",
    "touni",
    "makelist",
    "cached_property",
    "html_escape",
    "html_quote",
    "json_dumps",
    "json_loads",
    "http_date",
    "parse_date",
    "parse_auth",
    "parse_range_header",
    "load",
    "cookie_encode",
    "cookie_decode",
    "cookie_is_encoded",
    "route",
    "get",
    "post",
    "put",
    "delete",
    "patch",
    "error",
    "mount",
    "hook",
    "install",
    "uninstall",
    "url",
    "use",
    "run",
    "debug",
    "ServerAdapter",
    "WSGIRefServer",
    "GunicornServer",
    "WaitressServer",
    "CherootServer",
    "GeventServer",
    "EventletServer",
    "TornadoServer",
    "TwistedServer",
    "MeinheldServer",
    "BjoernServer",
    "AiohttpServer",
    "PasteServer",
    "UvicornServer",
    "HypercornServer",
    "LcoreASGIServer",
    "AutoServer",
    "WatchdogReloader",
    "AsyncReloader",
    "EventStream",
    "ServerSentEvent",
    "sse",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketState",
    "Component",
    "ComponentError",
    "Signal",
    "Metrics",
    "Profiling",
    "SessionMiddleware",
    "Session",
    "SessionStore",
    "CookieSessionStore",
    "MemorySessionStore",
    "RedisSessionStore",
    "SessionUnavailable",
    "Cache",
    "CacheBackend",
    "MemoryCacheBackend",
    "RedisCacheBackend",
    "CacheUnavailable",
    "cached",
    "cache_control",
    "ConditionalGetMiddleware",
]


_LAZY = {
    # Loaded on first use so that ``import lcore`` does not import httpx.
    "TestClient": ("lcore.testing", "TestClient"),
    "TestResponse": ("lcore.testing", "TestResponse"),
    # WebSockets live in lcore_ws (``import lcore`` never imports ``websockets``).
    "WebSocket": ("lcore_ws.websocket", "WebSocket"),
    "WebSocketDisconnect": ("lcore_ws.websocket", "WebSocketDisconnect"),
    "WebSocketState": ("lcore_ws.websocket", "WebSocketState"),
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'lcore' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


def _make_shortcut(name: str) -> Any:
    def shortcut(*a: Any, **ka: Any) -> Any:
        return getattr(default_app(), name)(*a, **ka)

    shortcut.__name__ = name
    shortcut.__doc__ = f"Call ``{name}`` on the default app (see ``Lcore.{name}``)."
    return shortcut


route = _make_shortcut("route")
"""Add a route to the default app: ``Lcore.route``."""
get = _make_shortcut("get")
"""Add a GET route to the default app: ``Lcore.get``."""
post = _make_shortcut("post")
"""Add a POST route to the default app: ``Lcore.post``."""
put = _make_shortcut("put")
"""Add a PUT route to the default app: ``Lcore.put``."""
delete = _make_shortcut("delete")
"""Add a DELETE route to the default app: ``Lcore.delete``."""
patch = _make_shortcut("patch")
"""Add a PATCH route to the default app: ``Lcore.patch``."""
error = _make_shortcut("error")
"""Register an error handler on the default app: ``Lcore.error``."""
mount = _make_shortcut("mount")
"""Mount an app under a prefix of the default app: ``Lcore.mount``."""
hook = _make_shortcut("hook")
"""Register a hook on the default app: ``Lcore.hook``."""
install = _make_shortcut("install")
"""Install a plugin on the default app: ``Lcore.install``."""
uninstall = _make_shortcut("uninstall")
"""Uninstall plugins from the default app: ``Lcore.uninstall``."""
use = _make_shortcut("use")
"""Add middleware to the default app: ``Lcore.use``."""
url = _make_shortcut("get_url")
"""Build the URL of a named route of the default app: ``Lcore.get_url``."""


def run(app: Any = None, **kwargs: Any) -> None:
    """Run ``app`` (default: the default app, or a ``"module:app"`` spec) on a server; see ``Lcore.run``."""
    from .server import run as _run

    _run(app, **kwargs)


def debug(mode: bool = True) -> None:
    """Turn debug mode on or off for the default app (tracebacks on error pages)."""
    global DEBUG
    DEBUG = bool(mode)
    default_app().config["debug"] = DEBUG
