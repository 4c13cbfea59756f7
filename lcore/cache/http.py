"""``cache_control()``: a checked ``Cache-Control`` header value (RFC 9111 directives)."""

from __future__ import annotations

from datetime import timedelta

__all__ = ["cache_control"]


def _seconds(name: str, value: int | float | timedelta) -> int:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0 (or a timedelta), not {value!r}")
    return int(value)


def cache_control(
    *,
    max_age: int | float | timedelta | None = None,
    s_maxage: int | float | timedelta | None = None,
    public: bool = False,
    private: bool = False,
    no_cache: bool = False,
    no_store: bool = False,
    no_transform: bool = False,
    must_revalidate: bool = False,
    proxy_revalidate: bool = False,
    must_understand: bool = False,
    immutable: bool = False,
    stale_while_revalidate: int | float | timedelta | None = None,
    stale_if_error: int | float | timedelta | None = None,
) -> str:
    """The value of a ``Cache-Control`` response header with these directives.

    ::

        response.set_header("Cache-Control", cache_control(max_age=60, public=True))
        # 'public, max-age=60'

    Ages are seconds (or timedeltas). Contradictions are a ValueError: ``public`` with
    ``private``, and ``no_store`` with anything that lets a cache keep the response
    (``max_age``, ``s_maxage``, ``public``, ``immutable``, ``stale_*``). With no
    directive at all, ValueError too (say ``no_cache=True`` or ``max_age=0``).
    """
    if public and private:
        raise ValueError("a response cannot be both public and private")
    keeps = {
        "max_age": max_age,
        "s_maxage": s_maxage,
        "public": public or None,
        "immutable": immutable or None,
        "stale_while_revalidate": stale_while_revalidate,
        "stale_if_error": stale_if_error,
    }
    if no_store and any(v is not None for v in keeps.values()):
        clash = ", ".join(k for k, v in keeps.items() if v is not None)
        raise ValueError(f"no_store forbids keeping the response; drop {clash}")
    parts = []
    for flag, directive in (
        (public, "public"),
        (private, "private"),
        (no_cache, "no-cache"),
        (no_store, "no-store"),
        (no_transform, "no-transform"),
        (must_revalidate, "must-revalidate"),
        (proxy_revalidate, "proxy-revalidate"),
        (must_understand, "must-understand"),
    ):
        if flag:
            parts.append(directive)
    for value, directive in (
        (max_age, "max-age"),
        (s_maxage, "s-maxage"),
        (stale_while_revalidate, "stale-while-revalidate"),
        (stale_if_error, "stale-if-error"),
    ):
        if value is not None:
            parts.append(f"{directive}={_seconds(directive, value)}")
    if immutable:
        parts.append("immutable")
    if not parts:
        raise ValueError("cache_control() needs at least one directive")
    return ", ".join(parts)
