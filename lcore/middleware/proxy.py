"""ProxyFixMiddleware: believe X-Forwarded-* headers only from trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from .base import MiddlewareHook

__all__ = ["ProxyFixMiddleware"]

_Net = ipaddress.IPv4Network | ipaddress.IPv6Network
_SCHEMES = frozenset(("http", "https"))


def _parse_networks(spec: Any) -> tuple[_Net, ...]:
    if not spec:
        return ()
    if isinstance(spec, str):
        spec = spec.split(",")
    nets = []
    for item in spec:
        item = str(item).strip()
        if item:
            nets.append(ipaddress.ip_network(item, strict=False))
    return tuple(nets)


def _clean_ip(value: str) -> str | None:
    """An IP address from a forwarded-for entry (ports and brackets dropped), or None."""
    value = value.strip().strip('"')
    candidates = [value]
    if value.startswith("["):  # [v6]:port
        candidates.append(value[1:].split("]", 1)[0])
    elif value.count(":") == 1:  # v4:port
        candidates.append(value.split(":", 1)[0])
    for c in candidates:
        try:
            return str(ipaddress.ip_address(c))
        except ValueError:
            continue
    return None


def _valid_host(value: str) -> bool:
    return 0 < len(value) <= 255 and all(33 <= ord(ch) < 127 and ch not in "/\\?#@" for ch in value)


class ProxyFixMiddleware(MiddlewareHook):
    """Take the client address, scheme and host from a trusted reverse proxy.

    Only when the connecting peer is in ``trusted_proxies`` (IPs or CIDR networks; None
    uses the app's ``proxy.trusted`` config, and with neither nothing is trusted) are
    ``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` believed. With
    ``num_proxies`` proxies in front of the app, the client is the ``num_proxies``-th
    ``X-Forwarded-For`` entry from the right (each proxy appends the address it saw), so
    entries a client made up on the left are never used. Sets ``request.remote_addr``,
    ``request.scheme`` and the host seen by ``request.url``. Add it first (order -10).
    """

    name = "proxy_fix"
    order = -10
    phase = "pre"
    _lcore_nonblocking = True

    def __init__(
        self, trusted_proxies: Iterable[str] | str | None = None, num_proxies: int = 1
    ) -> None:
        if int(num_proxies) < 1:
            raise ValueError("num_proxies must be at least 1")
        self.trusted_proxies = trusted_proxies
        self.num_proxies = int(num_proxies)
        self._nets = _parse_networks(trusted_proxies) if trusted_proxies is not None else None
        self._config_cache: tuple[Any, tuple[_Net, ...]] = (None, ())

    def _networks(self, ctx: Any) -> tuple[_Net, ...]:
        nets = self._nets
        if nets is not None:
            return nets
        app = ctx.app
        spec = app.config.get("proxy.trusted") if app is not None else None
        cached_spec, cached = self._config_cache
        if spec != cached_spec:
            cached = _parse_networks(spec)
            self._config_cache = (spec, cached)
        return cached

    def is_trusted(self, ctx: Any, peer: str | None) -> bool:
        """Whether ``peer`` (an IP string) is one of the trusted proxies."""
        if not peer:
            return False
        nets = self._networks(ctx)
        if not nets:
            return False
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(ip in net for net in nets)

    def _pick(self, header: str | None) -> str | None:
        """The value the nearest ``num_proxies`` proxies vouch for, or None."""
        if not header:
            return None
        hops = [h.strip() for h in header.split(",") if h.strip()]
        if len(hops) < self.num_proxies:
            return None
        return hops[-self.num_proxies]

    def pre(self, ctx: Any) -> Any:
        req = ctx.request
        peer = req.client[0] if req.client else None
        if not self.is_trusted(ctx, peer):
            return None
        headers = req.headers
        client = self._pick(headers.get("X-Forwarded-For"))
        proto = self._pick(headers.get("X-Forwarded-Proto"))
        host = self._pick(headers.get("X-Forwarded-Host"))
        # The neutral fields change; the URL, remote_addr and the environ a mounted WSGI
        # app sees follow them.
        req.apply_forwarded(
            client=_clean_ip(client) if client else None,
            scheme=proto.lower() if proto and proto.lower() in _SCHEMES else None,
            host=host if host and _valid_host(host) else None,
        )
        return None
