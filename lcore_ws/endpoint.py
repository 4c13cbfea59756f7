"""WebSocket routes on an Lcore app, and the handshake run through the app's pipeline.

``app.websocket(rule)`` registers into ``app.ws_router`` (the same rule syntax and
filters as HTTP routes, custom filters included). A connection is dispatched by
:func:`handle`, which takes ASGI ``websocket`` messages from any transport and runs the
app's ordinary request pipeline (``lcore.dispatch``) with the session as the handler:
hooks, pre/post middleware, DI and ``ctx`` all apply, and anything that answers before
the handler accepts (``abort(401)`` in an auth hook, say) rejects the handshake with
that HTTP status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lcore import dispatch
from lcore.concurrency import is_async_callable
from lcore.context import ctx
from lcore.request import BaseRequest
from lcore.response import HTTPResponse
from lcore.routing import Route, Router
from lcore_asgi.adapter import describe_scope

from .websocket import SyncWebSocket, WebSocket, WebSocketDisconnect, WebSocketState, _offered

__all__ = [
    "register",
    "handle",
    "ws_router",
    "upgrade_required",
    "warn_unserved",
    "refusal_handler",
]

_log = logging.getLogger("lcore.ws")


def ws_router(app: Any) -> Router:
    """The app's WebSocket router (made on first use; shares the HTTP router's filters)."""
    router = app.__dict__.get("ws_router")
    if router is None:
        router = Router()
        router.filters = app.router.filters  # one filter table: add_route_filter covers both
        app.__dict__["ws_router"] = router
        app.__dict__["ws_routes"] = []
    return router


def register(
    app: Any,
    path: str,
    callback: Callable[..., Any] | None = None,
    name: str | None = None,
    apply: Any = None,
    skip: Any = None,
    **config: Any,
) -> Any:
    """Implement ``Lcore.websocket`` (decorator, or direct call with ``callback``).

    ``apply``/``skip`` and route config work as for HTTP routes: plugins see the
    handler's signature (a plugin injecting a keyword argument works), and ``skip``
    opts the route out of plugins or post-routing middleware by name. Inside
    ``with app.group(...)`` the group's prefix and shared config apply, as to HTTP routes.
    """

    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(handler):
            raise TypeError(f"websocket handler must be callable, got {handler!r}")
        router = ws_router(app)
        group = app.current_group  # inside ``with app.group(...)``: its prefix and config
        plugins, skiplist, cfg = group.options(apply, skip, config)
        route = Route(
            app,
            group.rule(path),
            "GET",
            _entry(handler),
            name=name,
            plugins=plugins,
            skiplist=skiplist,
            **cfg,
        )
        route.websocket = True  # type: ignore[attr-defined]
        router.add(route.rule, "GET", route, name=name)
        app.__dict__["ws_routes"].append(route)
        return handler

    return decorator(callback) if callback is not None else decorator


def _entry(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The route callback: hands the connection's WebSocket to ``handler``."""
    if is_async_callable(handler):

        async def entry(**args: Any) -> Any:
            ws = ctx.state["websocket"]
            ws._follow_request()
            try:
                return await handler(ws, **args)
            except WebSocketDisconnect:
                return None

    else:

        def entry(**args: Any) -> Any:  # type: ignore[misc]
            ws = SyncWebSocket(ctx.state["websocket"])
            ws.websocket._follow_request()
            try:
                return handler(ws, **args)
            except WebSocketDisconnect:
                return None

    entry.__wrapped__ = handler  # type: ignore[attr-defined]
    entry.__name__ = getattr(handler, "__name__", "websocket")
    entry.__doc__ = handler.__doc__
    return entry


def request_from_scope(scope: dict[str, Any]) -> BaseRequest:
    """The handshake request of an ASGI ``websocket`` scope (it has no body)."""
    return BaseRequest(**describe_scope(scope))


def _resolve(
    app: Any, path: str, prefix: str = ""
) -> tuple[Any, Route, dict[str, Any], str] | None:
    """The app (this one, or an Lcore app mounted in it), route and args for ``path``."""
    router = app.__dict__.get("ws_router")
    if router is not None:
        try:
            route, args = router.match("GET", path)
            return app, route, args, prefix
        except HTTPResponse:
            pass
    for mount_prefix, child in app.mounts:
        if path.startswith(mount_prefix) and hasattr(child, "mounts") and hasattr(child, "router"):
            found = _resolve(
                child, "/" + path[len(mount_prefix) :], prefix + mount_prefix.rstrip("/")
            )
            if found is not None:
                return found
    return None


def upgrade_required(app: Any, path: str) -> bytes | None:
    """The ``426 Upgrade Required`` body when ``path`` is one of ``app``'s WebSocket routes.

    For transports that cannot serve WebSockets (a WSGI server; the embedded server
    without the ``websockets`` package): the client learns why, instead of a 404.
    """
    if not hasattr(app, "mounts") or _resolve(app, path) is None:
        return None
    return (
        f"426 Upgrade Required: {path} is a WebSocket route, and this server cannot serve "
        "WebSockets. Serve the app with an ASGI server (uvicorn, hypercorn, "
        "python -m lcore_asgi with lcore[ws] installed), or run "
        "`python -m lcore_ws module:app --port 8081` beside this server and route the "
        "WebSocket paths to it.\n"
    ).encode()


def warn_unserved(app: Any, where: str, fix: str) -> None:
    """Log once per app and process that ``app`` has WebSocket routes ``where`` cannot serve."""
    routes = app.__dict__.get("ws_routes") if hasattr(app, "__dict__") else None
    if not routes:
        return
    logged = app.__dict__.setdefault("_ws_unserved_logged", set())
    if where in logged:
        return
    logged.add(where)
    _log.warning(
        "this app has %d WebSocket route(s) (%s) that %s cannot serve; they answer "
        "426 Upgrade Required. %s",
        len(routes),
        ", ".join(r.rule for r in routes[:5]),
        where,
        fix,
    )


def refusal_handler() -> Callable[[Any, Any], Any]:
    """An embedded-server ``Upgrade: websocket`` handler for when ``websockets`` is missing.

    It answers ``426 Upgrade Required`` for the app's WebSocket routes, and lets any other
    upgrade request through to the app as plain HTTP.
    """
    from urllib.parse import unquote

    async def refuse(connection: Any, request: Any) -> bool:
        app = connection.state.app
        path = unquote(request.target.split(b"?", 1)[0].decode("latin-1"))
        body = upgrade_required(app, path)
        if body is None:
            return False
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"upgrade", b"websocket"),
            (b"connection", b"close"),
        ]
        await connection.send_head(426, headers, body, True)
        return True  # answered; the connection closes

    return refuse


async def handle(app: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Serve one ASGI ``websocket`` connection with the app's WebSocket routes."""
    first = await receive()
    if first.get("type") != "websocket.connect":
        return  # the client left before the handshake reached us
    if "subprotocols" not in scope:
        scope = dict(scope)
        scope["subprotocols"] = _offered(
            [v for k, v in scope.get("headers") or () if k == b"sec-websocket-protocol"]
        )
    req = request_from_scope(scope)
    found = _resolve(app, req.path)
    if found is not None and found[3]:
        # A route of a mounted Lcore app: the request is seen below its mount point.
        prefix = found[3]
        req.script_name = req.script_name.rstrip("/") + prefix.rstrip("/") + "/"
        req.path = req.path[len(prefix) :] or "/"
    ws = WebSocket(scope, receive, send, req)
    if found is None:
        await _reject(
            ws,
            404,
            [("Content-Type", "text/plain; charset=UTF-8")],
            b"No WebSocket route for this path.\n",
        )
        return
    app, route, args, _prefix = found
    ws.app = app
    # The pipeline is given the match: the WebSocket route, never an HTTP route that
    # happens to share the path. A ``def`` handler runs, with its hooks and middleware,
    # in one worker thread; its SyncWebSocket calls hop back to this loop.
    c = dispatch.new_context(app, req)
    c.state["websocket"] = ws
    try:
        out = await dispatch.run_route(c, route, args)
    except BaseException:
        if ws.state is WebSocketState.CONNECTED:
            await ws.close(1011, "internal error")
        elif ws.state is WebSocketState.CONNECTING:
            await _reject(ws, 500, [], b"")
        raise
    try:
        if ws.state is WebSocketState.CONNECTING:
            body = out.body if out.kind == dispatch.BYTES else b""
            status = out.status_code if out.status_code >= 400 else 403
            await _reject(ws, status, out.headers, body)
        elif ws.state is WebSocketState.CONNECTED:
            failed = out.status_code >= 500
            await ws.close(1011 if failed else 1000, "internal error" if failed else "")
    finally:
        await out.aclose()


async def _reject(ws: WebSocket, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    """Refuse the handshake: an HTTP response if the server can send one, else a 403 close."""
    ws.state = WebSocketState.DISCONNECTED
    ws.close_code = 1008
    extensions = ws.scope.get("extensions") or {}
    try:
        if "websocket.http.response" in extensions:
            hdrs = [
                (k.lower().encode("latin1"), v.encode("latin1"))
                for k, v in headers
                if k.lower() not in ("content-length", "transfer-encoding", "connection")
            ]
            hdrs.append((b"content-length", str(len(body)).encode()))
            await ws._send(
                {"type": "websocket.http.response.start", "status": status, "headers": hdrs}
            )
            await ws._send(
                {"type": "websocket.http.response.body", "body": body, "more_body": False}
            )
        else:
            await ws._send({"type": "websocket.close", "code": 1008, "reason": ""})
    except OSError:
        pass
