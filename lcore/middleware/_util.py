"""Helpers shared by the built-in middleware: the response a result will be sent as."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..response import HTTPResponse


def target(ctx: Any, result: Any) -> Any:
    """The response object whose headers win for ``result``.

    An ``HTTPResponse`` result (returned or raised) is copied onto ``ctx.response`` when
    the response is built, its headers replacing those of the same name; headers for it
    must therefore be set on the result itself.
    """
    return result if isinstance(result, HTTPResponse) else ctx.response


def get_header(ctx: Any, result: Any, name: str, default: Any = None) -> Any:
    """The value ``name`` will have when ``result`` is sent (or ``default``)."""
    if isinstance(result, HTTPResponse):
        value = result.get_header(name)
        if value is not None:
            return value
    return ctx.response.get_header(name, default)


def status_of(ctx: Any, result: Any) -> int:
    """The status code ``result`` will be sent with."""
    if isinstance(result, HTTPResponse):
        return int(result.status_code)
    return int(ctx.response.status_code)


def _gone(ctx: Any) -> int:
    return 499  # cancelled: the client or the server went away (as nginx logs it)


def observed(
    ctx: Any,
    next_handler: Any,
    done: Callable[[Any, int, float], None],
    status: Callable[[Any, Any], int] = status_of,
) -> Any:
    """``next_handler(ctx)``, then ``done(ctx, status, start)`` whatever happened.

    For middleware that counts or logs each request's outcome. ``status`` is
    ``status(ctx, result)``, a raised ``HTTPResponse``'s own, or 500 for an unhandled
    error; ``start`` is ``time.perf_counter()`` before the call. :func:`aobserved` is
    the async twin.
    """
    start = time.perf_counter()
    code = 500
    try:
        result = next_handler(ctx)
        code = status(ctx, result)
        return result
    except HTTPResponse as e:
        code = e.status_code
        raise
    finally:
        done(ctx, code, start)


async def aobserved(
    ctx: Any,
    next_handler: Any,
    done: Callable[[Any, int, float], None],
    status: Callable[[Any, Any], int] = status_of,
    cancelled: Callable[[Any], int] = _gone,
) -> Any:
    """:func:`observed` for ``await next_handler(ctx)``; a cancelled call is ``cancelled(ctx)``."""
    start = time.perf_counter()
    code = 500
    try:
        result = await next_handler(ctx)
        code = status(ctx, result)
        return result
    except HTTPResponse as e:
        code = e.status_code
        raise
    except Exception:
        raise
    except BaseException:
        code = cancelled(ctx)
        raise
    finally:
        done(ctx, code, start)


def add_vary(ctx: Any, result: Any, token: str) -> None:
    """Add ``token`` to the Vary header (merging with values already there)."""
    current = get_header(ctx, result, "Vary", "")
    if not current:
        target(ctx, result).set_header("Vary", token)
        return
    tokens = [t.strip() for t in current.split(",") if t.strip()]
    if any(t == "*" or t.lower() == token.lower() for t in tokens):
        return
    tokens.append(token)
    target(ctx, result).set_header("Vary", ", ".join(tokens))


def remove_header(ctx: Any, result: Any, name: str) -> None:
    """Remove ``name`` from the response and from an ``HTTPResponse`` result."""
    for resp in (ctx.response, result if isinstance(result, HTTPResponse) else None):
        if resp is not None and name in resp:
            del resp[name]
