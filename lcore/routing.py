"""URL routing: rule syntax, filters, a compiled matcher, URL building.

Static rules are found by one dict lookup. Dynamic rules are compiled, per method and per
first path segment, into one combined regular expression whose ``lastindex`` names the
route, so the cost of a match does not grow with the number of unrelated routes.
Registration order decides between rules that match the same path.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

from ._utils import makelist
from .exceptions import RouteBuildError, RouteError, RouterUnknownModeError, RouteSyntaxError
from .response import HTTPError

__all__ = [
    "Router",
    "Route",
    "RouteGroup",
    "RouteSyntaxError",
    "RouteBuildError",
    "yieldroutes",
]

# A rule token: ``<name>``, ``<name:filter>``, ``<name:filter:config>`` (``\<`` escapes).
_TOKEN = re.compile(r"(\\*)<([a-zA-Z_][a-zA-Z_0-9]*)?(?::([a-zA-Z_]*)(?::((?:\\.|[^\\>])+)?)?)?>")
_UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def _flatten(pattern: str) -> str:
    """Turn every capturing group of a user regex into a non-capturing one."""
    if "(" not in pattern:
        return pattern
    out, i, n = [], 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
        elif ch == "(":
            if pattern.startswith("(?P<", i):
                end = pattern.index(">", i)
                out.append("(?:")
                i = end + 1
                continue
            if not pattern.startswith("(?", i):
                out.append("(?:")
                i += 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _default_filters() -> dict[str, Callable[[str | None], tuple[str, Any, Any]]]:
    return {
        "re": lambda conf: (_flatten(conf or r"[^/]+"), None, None),
        "int": lambda conf: (r"-?\d+", int, lambda x: str(int(x))),
        "float": lambda conf: (r"-?[\d.]+", float, lambda x: str(float(x))),
        "path": lambda conf: (r".+?", None, None),
        "uuid": lambda conf: (_UUID_RE, None, lambda x: str(uuid.UUID(str(x)))),
    }


class Route:
    """One route: a rule, a method and a callback, with its config and plugins.

    Config keys the core reads: ``status`` (the default success status, applied when the
    handler sets none), and for the OpenAPI document ``responses`` (status -> description,
    type or response object), ``security`` (``'bearer'``, ``'basic'``, ``'cookie[:name]'``
    or a list of them) and ``tags``; any other key is the route's own (plugins read it).

    ``plan`` says what runs for a request to it (hooks, middleware, the callback with its
    plugins applied as ``call``, the cast), built on first use and again after
    ``reset()``.
    """

    def __init__(
        self,
        app: Any,
        rule: str,
        method: str,
        callback: Callable[..., Any],
        name: str | None = None,
        plugins: Any = None,
        skiplist: Any = None,
        **config: Any,
    ) -> None:
        self.app = app
        self.rule = rule
        self.method = method
        self.callback = callback
        self.name = name or None
        self.plugins = list(plugins or [])
        self.skiplist = list(skiplist or [])
        self.config = dict(config)
        if config:
            _check_config(self.config, rule, method)
        self._plan: Any = None
        #: For mount routes: (kind, app, prefix, depth); None for handlers.
        self._mount: tuple[Any, ...] | None = None

    # PERF: the dispatcher reads ``route._plan`` (a plain attribute) and builds it on
    # a miss; ``plan``, ``call`` and ``is_async`` are the readable spellings of it.
    @property
    def plan(self) -> Any:
        """What runs for a request to this route (:class:`lcore.plan.RoutePlan`)."""
        plan = self._plan
        return plan if plan is not None else self._build_plan()

    def _build_plan(self) -> Any:
        from .plan import build_plan

        plan = self._plan = build_plan(self)
        return plan

    @property
    def call(self) -> Callable[..., Any]:
        """The callback with every applicable plugin applied."""
        return self.plan.call

    @property
    def is_async(self) -> bool:
        """Whether the handler is awaited (``async def``, or wrapped by an async plugin)."""
        return self.plan.is_async

    def reset(self) -> None:
        """Forget the plan (plugins applied, middleware, cast); rebuilt on next use."""
        self._plan = None

    def prepare(self) -> None:
        """Build the plan now."""
        self.plan  # noqa: B018

    def all_plugins(self) -> list[Any]:
        """The plugins that apply to this route (app plugins + route plugins - skips)."""
        unique = set()
        result: list[Any] = []
        if self._mount is not None:
            return result
        for p in reversed(list(self.app.plugins) + self.plugins):
            if True in self.skiplist:
                break
            name = getattr(p, "name", False)
            if name and (name in self.skiplist or name in unique):
                continue
            if p in self.skiplist or type(p) in self.skiplist:
                continue
            if name:
                unique.add(name)
            result.append(p)
        return result

    def _make_callback(self, plugins: list[Any] | None = None) -> Callable[..., Any]:
        from .exceptions import RouteReset

        callback = self.callback
        for plugin in self.all_plugins() if plugins is None else plugins:
            try:
                if hasattr(plugin, "apply"):
                    callback = plugin.apply(callback, self)
                else:
                    callback = plugin(callback)
            except RouteReset:
                return self._make_callback(plugins)
            if callback is not self.callback:
                try:
                    callback.__wrapped__ = getattr(callback, "__wrapped__", self.callback)
                except (AttributeError, TypeError):
                    pass
        return callback

    def get_undecorated_callback(self) -> Callable[..., Any]:
        """The original handler, looking through decorators that set ``__wrapped__``."""
        func = self.callback
        seen = 0
        while hasattr(func, "__wrapped__") and seen < 50:
            func = func.__wrapped__
            seen += 1
        return func

    def get_callback_args(self) -> list[str]:
        """Names of the handler's positional parameters."""
        import inspect

        try:
            return list(inspect.signature(self.get_undecorated_callback()).parameters)
        except (TypeError, ValueError):
            return []

    def get_config(self, key: str, default: Any = None) -> Any:
        """Route config value, falling back to the app config."""
        if key in self.config:
            return self.config[key]
        return self.app.config.get(key, default)

    def __repr__(self) -> str:
        cb = self.get_undecorated_callback()
        return f"<{self.method} {self.rule!r} {getattr(cb, '__qualname__', cb)!r}>"


_SCHEMES = ("bearer", "basic", "cookie")


def _check_config(config: dict[str, Any], rule: str, method: str) -> None:
    """Refuse, when the route is added, a ``status``/``responses``/``security`` that cannot work."""
    where = f"route {method} {rule!r}"
    status = config.get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
    ):
        raise RouteError(
            f"{where}: status={status!r} is not an HTTP status code (an int from 100 to 599)"
        )
    responses = config.get("responses")
    if responses is not None:
        if not isinstance(responses, dict):
            raise RouteError(
                f"{where}: responses= must be a dict of status -> description, type or dict"
            )
        for code in responses:
            ok = code == "default" or (
                isinstance(code, str) and re.fullmatch(r"[1-5](?:XX|\d\d)", code)
            )
            if not ok and not (
                isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599
            ):
                raise RouteError(f"{where}: responses= key {code!r} is not an HTTP status code")
    security = config.get("security")
    if security is not None:
        for s in [security] if isinstance(security, str) else security:
            if not isinstance(s, str) or s.partition(":")[0] not in _SCHEMES:
                raise RouteError(
                    f"{where}: security={s!r} is not one of 'bearer', 'basic', 'cookie' or 'cookie:<name>'"
                )


class _Compiled:
    """A compiled rule: static path or regex with argument extractors and a builder."""

    __slots__ = ("route", "static", "regex", "args", "builder", "first", "order", "argnames")

    def __init__(self) -> None:
        self.route: Route
        self.static: str | None = None
        self.regex = ""
        self.args: list[tuple[str | None, Any]] = []
        self.builder: list[tuple[str | None, Any]] = []
        self.first: str | None = None
        self.order = 0
        self.argnames: list[str] = []


class _Bucket:
    """Dynamic routes of one method sharing a first segment, compiled into one regex."""

    __slots__ = ("entries", "_regex", "_index")

    def __init__(self) -> None:
        self.entries: list[_Compiled] = []
        self._regex: Any = None
        self._index: dict[int, _Compiled] = {}

    def add(self, c: _Compiled, rule: str) -> None:
        # The same rule again takes the earlier one's place (and its priority).
        for i, old in enumerate(self.entries):
            if old.route.rule == rule:
                c.order = old.order
                self.entries[i] = c
                break
        else:
            self.entries.append(c)
        self._regex = None

    def _compile(self) -> Any:
        parts, index, group = [], {}, 1
        for c in self.entries:
            parts.append("(" + c.regex + ")")
            index[group] = c
            group += 1 + len(c.args)
        self._index = index
        self._regex = re.compile("^(?:" + "|".join(parts) + ")$", re.DOTALL)
        return self._regex

    def match(self, path: str) -> tuple[_Compiled, tuple[Any, ...]] | None:
        regex = self._regex or self._compile()
        m = regex.match(path)
        if m is None:
            return None
        # PERF: lastindex is the route's outer group (closed last), no scan over routes.
        c = self._index[m.lastindex]
        return c, m.groups()[m.lastindex : m.lastindex + len(c.args)]


class Router:
    """Maps (method, path) to a route and its URL arguments; builds URLs by name."""

    def __init__(self, strict: bool = False) -> None:
        self.filters = _default_filters()
        self.rules: list[_Compiled] = []
        self.builder: dict[str, _Compiled] = {}
        self.static: dict[str, dict[str, _Compiled]] = {}
        self.dynamic: dict[str, dict[str | None, _Bucket]] = {}
        self.strict_order = strict

    def add_filter(self, name: str, func: Callable[[str | None], tuple[str, Any, Any]]) -> None:
        """Add a filter: ``func(config) -> (regex, to_python, to_url)``."""
        self.filters[name] = func

    def _parse(self, rule: str) -> list[tuple[str, Any, Any, Any]]:
        """Split a rule into (text, name, mode, conf) pieces."""
        offset, prefix = 0, ""
        out: list[tuple[str, Any, Any, Any]] = []
        for m in _TOKEN.finditer(rule):
            prefix += rule[offset : m.start()]
            g = m.groups()
            if len(g[0]) % 2:  # escaped '<'
                prefix += m.group(0)[len(g[0]) :]
                offset = m.end()
                continue
            if prefix:
                out.append((prefix, None, None, None))
            out.append(("", g[1], g[2] if g[2] is not None else "default", g[3]))
            offset, prefix = m.end(), ""
        if offset <= len(rule) or prefix:
            prefix += rule[offset:]
            if prefix:
                out.append((prefix, None, None, None))
        return out

    def add(self, rule: str, method: str, target: Route, name: str | None = None) -> None:
        """Add a route for ``method`` (``'ANY'`` matches every method)."""
        c = _Compiled()
        c.route = target
        c.order = len(self.rules)
        pattern, is_static = "", True
        anons = 0
        for text, key, mode, conf in self._parse(rule):
            if key is None and mode is None:
                text = text.replace("\\<", "<")
                pattern += re.escape(text)
                c.builder.append((None, text))
                continue
            is_static = False
            if mode == "default":
                mask, in_filter, out_filter = r"[^/]+", None, None
            else:
                if mode not in self.filters:
                    raise RouterUnknownModeError(
                        f"Unknown route filter {mode!r} in rule {rule!r}; known filters: "
                        f"{', '.join(sorted(self.filters))} "
                        "(add one with app.add_route_filter(name, pattern))"
                    )
                try:
                    mask, in_filter, out_filter = self.filters[mode](conf)
                except re.error as e:
                    raise RouteSyntaxError(f"Bad regex in rule {rule!r}: {e}") from None
            if not key:
                key = None
                anons += 1
                pattern += f"(?:{mask})"
                c.builder.append((f"anon{anons}", out_filter))
                continue
            pattern += f"({mask})"
            c.args.append((key, in_filter))
            c.argnames.append(key)
            c.builder.append((key, out_filter))
        try:
            re.compile(f"^{pattern}$")
        except re.error as e:
            raise RouteSyntaxError(f"Could not add route {rule!r}: {e}") from None
        if "<" in rule.replace("\\<", "") and is_static and _TOKEN.search(rule) is None:
            raise RouteSyntaxError(f"Unbalanced '<' in rule {rule!r}")
        if name:
            self.builder[name] = c
        self.rules.append(c)
        method = method.upper()
        if is_static:
            c.static = self.build_static(c)
            # An identical rule added again replaces the earlier one (Bottle), as below.
            self.static.setdefault(method, {})[c.static] = c
            return
        c.regex = pattern
        first = None
        if rule.startswith("/"):
            seg = rule[1:].split("/", 1)[0]
            if seg and "<" not in seg and "\\" not in seg and len(rule) > len(seg) + 1:
                first = seg
        c.first = first
        buckets = self.dynamic.setdefault(method, {})
        buckets.setdefault(first, _Bucket()).add(c, rule)

    @staticmethod
    def build_static(c: _Compiled) -> str:
        return "".join(text for _k, text in c.builder)

    def _match_method(self, method: str, path: str) -> tuple[_Compiled, tuple[Any, ...]] | None:
        st = self.static.get(method)
        if st is not None:
            hit = st.get(path)
            if hit is not None:
                return hit, ()
        buckets = self.dynamic.get(method)
        if not buckets:
            return None
        found: Any = None
        slash = path.find("/", 1)
        seg = path[1:slash] if slash > 0 else None
        if seg is not None:
            b = buckets.get(seg)
            if b is not None:
                found = b.match(path)
        wild = buckets.get(None)
        if wild is not None:
            other = wild.match(path)
            if other is not None and (found is None or other[0].order < found[0].order):
                found = other
        return found

    def match(self, method: str, path: str) -> tuple[Route, dict[str, Any]]:
        """Return ``(route, url_args)``; raise HTTPError 404, or 405 with ``Allow``."""
        # PERF: a static rule for the exact method is one dict lookup, no other calls.
        st = self.static.get(method)
        if st is not None:
            hit = st.get(path)
            if hit is not None:
                return hit.route, {}
        found = None
        methods: tuple[str, ...] = ()
        # PERF: the common dynamic case inline: the method's own rules for the path's
        # first segment, when no rule of that method starts with a wildcard.
        buckets = self.dynamic.get(method)
        if buckets is not None and None not in buckets:
            slash = path.find("/", 1)
            if slash > 0:
                b = buckets.get(path[1:slash])
                if b is not None:
                    found = b.match(path)
        if found is None:
            order = _METHOD_ORDER.get(method)
            if order is None:
                method = method.upper()
                order = (method, "ANY") if method != "HEAD" else ("HEAD", "GET", "ANY")
            methods = order
            for m in methods:
                found = self._match_method(m, path)
                if found is not None:
                    break
        if found is not None:
            c, groups = found
            args: dict[str, Any] = {}
            if groups:
                for (key, conv), value in zip(c.args, groups, strict=False):
                    if conv is not None:
                        try:
                            value = conv(value)
                        except ValueError:
                            raise HTTPError(400, "Path has wrong format.") from None
                    args[key] = value  # type: ignore[index]
            return c.route, args
        allowed = set()
        for m in set(self.static) | set(self.dynamic):
            if m in methods:
                continue
            if self._match_method(m, path) is not None:
                allowed.add(m)
        if allowed:
            if "GET" in allowed:
                allowed.add("HEAD")
            allow = ",".join(sorted(allowed))
            raise HTTPError(405, "Method Not Allowed", Allow=allow)
        raise HTTPError(404, "Not Found")

    def build(self, _name: str, *anons: Any, **query: Any) -> str:
        """Build a URL path for a named route; extra keywords become the query string."""
        c = self.builder.get(_name)
        if c is None:
            raise RouteBuildError(f"No route with the name {_name!r}.")
        try:
            for i, value in enumerate(anons):
                query[f"anon{i + 1}"] = value
            parts = []
            for key, val in c.builder:
                if key is None:
                    parts.append(val)
                    continue
                value = query.pop(key)
                text = val(value) if val else str(value)
                safe = _PCHAR_SAFE + "/" if _is_path_filter(c, key) else _PCHAR_SAFE
                parts.append(quote(text, safe=safe))
            url = "".join(parts)
            return url + ("?" + urlencode(query) if query else "")
        except KeyError as e:
            raise RouteBuildError(f"Missing URL argument: {e.args[0]!r}") from None


#: Characters legal unescaped in a path segment (RFC 3986 ``pchar`` minus unreserved).
_PCHAR_SAFE = "!$&'()*+,;=:@"


_METHOD_ORDER = {
    m: ((m, "ANY") if m != "HEAD" else ("HEAD", "GET", "ANY"))
    for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
}


def _is_path_filter(c: _Compiled, key: str) -> bool:
    return f"<{key}:path" in c.route.rule or f"<{key}:re" in c.route.rule


class RouteGroup(NamedTuple):
    """The ``with app.group(prefix, **config)`` routes are being added in (``app.current_group``).

    ``prefix`` is the full prefix (nested groups joined), ``''`` outside any group;
    ``config`` (read-only) is what every route added now shares.
    """

    prefix: str
    config: Mapping[str, Any]

    def rule(self, rule: str) -> str:
        """``rule`` under the group's prefix (``''`` and ``'/'`` keep their meaning)."""
        prefix = self.prefix
        if not prefix:
            return rule
        if rule in ("", "/"):
            return prefix.rstrip("/") + rule
        return prefix.rstrip("/") + "/" + rule.lstrip("/")

    def options(
        self, apply: Any, skip: Any, config: Mapping[str, Any]
    ) -> tuple[list[Any], list[Any], dict[str, Any]]:
        """A route's plugins, skip list and config in this group.

        The group's ``apply=``/``skip=`` come before the route's own; the route's config
        wins over the group's.
        """
        common = dict(self.config)
        plugins = makelist(common.pop("apply", None)) + makelist(apply)
        skiplist = makelist(common.pop("skip", None)) + makelist(skip)
        return plugins, skiplist, {**common, **config}


def yieldroutes(func: Callable[..., Any]) -> Iterator[str]:
    """Yield rules for a function with no explicit path: ``/name/<arg>/...``.

    Arguments with defaults give shorter rules too.
    """
    path = "/" + func.__name__.replace("__", "/").lstrip("/")
    spec = inspect.signature(func)
    argc = 0
    defaults = 0
    for p in spec.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        argc += 1
        if p.default is not p.empty:
            defaults += 1
    names = [
        p.name for p in spec.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    path += ("/<%s>" * (argc - defaults)) % tuple(names[: argc - defaults])
    yield path
    for arg in names[argc - defaults :]:
        path += f"/<{arg}>"
        yield path
