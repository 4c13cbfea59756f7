"""Management commands: ``routes``, ``check`` and the app's own ``@app.command()``.

``python -m lcore routes APP`` prints every route (method, rule, name, handler, sync or
async, the middleware that wraps it); ``python -m lcore check APP`` imports the app and
lists what would go wrong in production (exit status 1 when there is a problem);
``python -m lcore APP COMMAND [args]`` runs a function the app registered with
``@app.command()``, its command-line arguments read from the function's signature::

    @app.command()
    def create_user(email: str, admin: bool = False, quota: int = 10):
        '''Create a user account.'''

    $ python -m lcore myapp:app create-user ann@example.com --admin --quota 20

A parameter without a default is a positional argument; one with a default is an option
(``--quota 20``); a ``bool`` is a flag (``--admin``, or ``--no-cache`` for a default of
True); ``*args`` takes the remaining values; ``int``, ``float``, ``pathlib.Path``,
``Optional[X]``, ``list[X]`` and ``Literal[...]`` annotations convert and check the text.
An ``async def`` command runs on lcore's persistent event loop. The command's return
value: None is success, an int is the exit status, anything else is printed (dicts and
lists as JSON).
"""

from __future__ import annotations

import argparse
import enum
import inspect
import re
import sys
import types
import typing
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import _bridge
from ._extras import available, install_hint
from ._utils import json_dumps
from .plan import _name as _label  # a middleware or plugin by name, as route plans list them

__all__ = [
    "Command",
    "CheckReport",
    "check",
    "command",
    "commands",
    "route_rows",
    "routes_main",
    "check_main",
    "run_command",
]

_REGISTRY: weakref.WeakKeyDictionary[Any, dict[str, Command]] = weakref.WeakKeyDictionary()

#: Names lcore's own subcommands take; an app command cannot use them.
RESERVED = frozenset(("routes", "check"))

#: ``ctx`` attributes the built-in middleware set; a dependency of that name is hidden.
_MIDDLEWARE_CTX_NAMES = {
    "CSRFMiddleware": ("csrf_token",),
    "RequestIDMiddleware": ("request_id",),
    "TimeoutMiddleware": ("timed_out", "timeout_deadline"),
}


# -- app-defined commands -------------------------------------------------------------------


class Command:
    """A function run from the command line, its arguments parsed from its signature."""

    def __init__(
        self, func: Callable[..., Any], name: str | None = None, help: str | None = None
    ) -> None:
        self.func = func
        self.name = name or func.__name__.replace("_", "-")
        if self.name in RESERVED or not re.fullmatch(r"[A-Za-z][\w.-]*", self.name):
            raise ValueError(
                f"command name {self.name!r} is not allowed: use letters, digits, '-', '_' or '.'"
                f" (and not {', '.join(sorted(RESERVED))}, which lcore's own commands use)"
            )
        doc = inspect.getdoc(func) or ""
        self.help = help if help is not None else (doc.splitlines()[0] if doc else "")
        self.description = doc or self.help
        self._params = list(inspect.signature(func).parameters.values())
        try:
            self._hints = typing.get_type_hints(func)
        except Exception:  # noqa: BLE001 - unresolvable annotations: take them as written
            self._hints = {p.name: p.annotation for p in self._params}
        for p in self._params:
            if p.kind is p.VAR_KEYWORD:
                raise TypeError(
                    f"command {self.name!r}: **{p.name} cannot be filled from the command line"
                )
        self.parser("check")  # a parameter argparse cannot take fails now, not when run

    def parser(self, prog: str) -> argparse.ArgumentParser:
        """The argparse parser of this command (``prog`` is shown in its usage line)."""
        p = argparse.ArgumentParser(
            prog=prog,
            description=self.description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        for param in self._params:
            _add_argument(p, param, self._hints.get(param.name, param.annotation))
        return p

    def run(self, argv: Sequence[str], prog: str | None = None) -> int:
        """Parse ``argv``, call the function and return the exit status."""
        args = vars(self.parser(prog or self.name).parse_intermixed_args(list(argv)))
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        for param in self._params:
            value = args[param.name]
            if param.kind is param.VAR_POSITIONAL:
                positional.extend(value)
            elif param.kind is param.KEYWORD_ONLY:
                keywords[param.name] = value
            else:
                positional.append(value)
        result = _bridge.resolve_sync(self.func(*positional, **keywords))
        return _status(result)

    def __repr__(self) -> str:
        return f"<Command {self.name}: {getattr(self.func, '__qualname__', self.func)!r}>"


def command(app: Any, name: Any = None, help: str | None = None) -> Any:
    """Register a function as a command of ``app`` (what ``@app.command()`` does).

    Used as ``@command(app)`` / ``@command(app, 'name', help='...')`` or, through the
    app, ``@app.command()``. The command is named after the function (underscores
    become dashes) unless ``name`` is given. Returns the function unchanged.
    """
    if callable(name):  # @app.command without parentheses
        return command(app, None, help)(name)

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        cmd = Command(func, name, help)
        table = _REGISTRY.setdefault(app, {})
        if cmd.name in table and table[cmd.name].func is not func:
            raise ValueError(f"command {cmd.name!r} is already registered on this app")
        table[cmd.name] = cmd
        return func

    return decorator


def commands(app: Any) -> dict[str, Command]:
    """The commands registered on ``app``, by name (a copy)."""
    return dict(_REGISTRY.get(app, {}))


def run_command(app: Any, spec: str, name: str, argv: Sequence[str]) -> int:
    """Run ``app``'s command ``name`` with ``argv``; return the exit status.

    The app is the default app meanwhile (``with app:``) and is closed afterwards
    (plugins, singleton dependencies). An unknown name lists the known ones (status 2).
    """
    table = commands(app)
    cmd = table.get(name)
    if cmd is None:
        known = ", ".join(sorted(table)) or "none (register one with @app.command())"
        print(f"error: {spec!r} has no command {name!r}; its commands: {known}", file=sys.stderr)
        return 2
    enter = getattr(app, "__enter__", None)
    if enter is not None:
        enter()
    try:
        return cmd.run(argv, prog=f"python -m lcore {spec} {cmd.name}")
    finally:
        if enter is not None:
            app.__exit__(None, None, None)
        close = getattr(app, "close", None)
        if close is not None:
            close()


def _status(result: Any) -> int:
    if result is None or result is True:
        return 0
    if result is False:
        return 1
    if isinstance(result, int):
        return result
    print(result if isinstance(result, str) else json_dumps(result))
    return 0


def _unwrap_optional(tp: Any) -> Any:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def _converter(tp: Any) -> tuple[Callable[[str], Any] | None, list[Any] | None]:
    """``(type for argparse, choices)`` for an annotation."""
    tp = _unwrap_optional(tp)
    if tp is inspect.Parameter.empty or tp is Any or tp is str:
        return None, None
    if typing.get_origin(tp) is typing.Literal:
        choices = list(typing.get_args(tp))
        kinds = {type(c) for c in choices}
        return (kinds.pop() if len(kinds) == 1 and kinds != {str} else None), choices
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp, list(tp)
    if isinstance(tp, type):
        return tp, None
    raise TypeError(f"cannot read a {tp!r} from the command line")


def _add_argument(p: argparse.ArgumentParser, param: inspect.Parameter, tp: Any) -> None:
    name, flag = param.name, "--" + param.name.replace("_", "-")
    has_default = param.default is not param.empty
    tp = _unwrap_optional(tp)
    if tp is inspect.Parameter.empty and has_default and param.default is not None:
        tp = type(param.default)
    if tp is bool:
        if has_default and param.default:
            no = "--no-" + param.name.replace("_", "-")
            p.add_argument(no, dest=name, action="store_false", help=f"turn {name} off")
        else:
            p.add_argument(flag, dest=name, action="store_true")
        return
    many = typing.get_origin(tp) in (list, tuple, Sequence, Iterable) or (
        param.kind is param.VAR_POSITIONAL
    )
    item = typing.get_args(tp)[0] if typing.get_origin(tp) and typing.get_args(tp) else tp
    conv, choices = _converter(item if many and param.kind is not param.VAR_POSITIONAL else tp)
    extra: dict[str, Any] = {}
    if conv is not None:
        extra["type"] = conv
    if choices is not None:
        extra["choices"] = choices
    if param.kind is param.VAR_POSITIONAL:
        p.add_argument(name, nargs="*", metavar=name.upper(), **extra)
    elif not has_default and param.kind is not param.KEYWORD_ONLY:
        p.add_argument(name, nargs="+" if many else None, metavar=name.upper(), **extra)
    elif not has_default:
        p.add_argument(flag, dest=name, required=True, nargs="+" if many else None, **extra)
    else:
        shown = "" if param.default is None else " (default: %(default)s)"
        p.add_argument(
            flag,
            dest=name,
            default=param.default,
            nargs="*" if many else None,
            help=shown.strip(),
            **extra,
        )


# -- routes -----------------------------------------------------------------------------------


def _handler_label(func: Any) -> str:
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None) or repr(func)
    return f"{module}.{qualname}" if module else qualname


def route_rows(app: Any, prefix: str = "", outer: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One row per route of ``app`` (mounted Lcore apps' routes included, under their prefix).

    Keys: ``method``, ``rule``, ``name``, ``handler`` (module.qualname), ``kind``
    (``sync``, ``async``, ``websocket`` or the mounted app's kind) and ``middleware``
    (names, outermost first: pre-routing ones, then those wrapping this route).
    """
    from .app import Lcore

    rows: list[dict[str, Any]] = []
    pre = [*outer, *(_label(e.mw) for e in app.middleware.pre if e.matcher is None)]
    for route in app.routes:
        plan = route.plan
        # a middleware limited with ``routes=`` is shown where its pattern matches the rule
        entries = (*app.middleware.pre, *plan.post)
        wrapping = [
            *outer,
            *(_label(e.mw) for e in entries if e.matcher is None or e.matcher(route.rule)),
        ]
        mount = route._mount
        if mount is not None:
            kind, child, norm, _depth = mount
            if not route.rule.endswith(">"):
                continue  # each mount has two routes (with and without a trailing path)
            if isinstance(child, Lcore):
                rows += route_rows(child, prefix + norm.rstrip("/"), wrapping)
                continue
            rows.append(
                _row(
                    "*",
                    prefix + norm + "*",
                    route.name,
                    _handler_label(child),
                    f"{kind} app",
                    wrapping,
                )
            )
            continue
        cb = route.get_undecorated_callback()
        kind = "async" if plan.is_async else "sync"
        rows.append(
            _row(route.method, prefix + route.rule, route.name, _handler_label(cb), kind, wrapping)
        )
    for route in app.__dict__.get("ws_routes", ()):
        cb = route.get_undecorated_callback()
        kind = "websocket, " + ("async" if _bridge.is_async_callable(cb) else "sync")
        rows.append(_row("WS", prefix + route.rule, route.name, _handler_label(cb), kind, pre))
    return rows


def _row(
    method: Any, rule: str, name: Any, handler: str, kind: str, middleware: Sequence[str]
) -> dict[str, Any]:
    return {
        "method": method,
        "rule": rule,
        "name": name,
        "handler": handler,
        "kind": kind,
        "middleware": list(middleware),
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows of :func:`route_rows` as an aligned text table."""
    head = ("METHOD", "RULE", "NAME", "HANDLER", "KIND", "MIDDLEWARE")
    lines = [
        (
            str(r["method"]),
            r["rule"],
            r["name"] or "-",
            r["handler"],
            r["kind"],
            ", ".join(r["middleware"]) or "-",
        )
        for r in rows
    ]
    widths = [max(len(cell) for cell in col) for col in zip(head, *lines, strict=True)]
    out = []
    for cells in (head, *lines):
        out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return "\n".join(out)


def routes_main(
    app: Any, spec: str, argv: Sequence[str], prog: str = "python -m lcore routes"
) -> int:
    """``python -m lcore routes APP [--json]``: print the route table of ``app`` (named ``spec``)."""
    p = argparse.ArgumentParser(prog=f"{prog} {spec}", description="List an app's routes.")
    p.add_argument("--json", action="store_true", help="print JSON (one object per route)")
    args = p.parse_args(list(argv))
    rows = route_rows(app)
    print(json_dumps(rows) if args.json else format_table(rows))
    return 0


# -- check ------------------------------------------------------------------------------------


class CheckReport:
    """What :func:`check` found: ``problems`` (exit status 1) and ``notes`` (advice)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.summary = ""

    @property
    def ok(self) -> bool:
        """True when there is no problem."""
        return not self.problems

    def render(self) -> str:
        """The report as text, one finding per line."""
        lines = [self.summary] if self.summary else []
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"note: {n}" for n in self.notes]
        count = len(self.problems)
        lines.append(
            "no problems found" if not count else f"{count} problem{'s' if count > 1 else ''} found"
        )
        return "\n".join(lines)


def check(app: Any, *, wsgi_only: bool = False, schema: Any = None) -> CheckReport:
    """Look for problems in ``app`` before it is deployed.

    - the config against ``schema`` or the app's ``config_schema`` (a dataclass), if any;
    - WebSocket routes: the ``websockets`` package must be installed, and a WSGI-only
      deployment (``wsgi_only``) cannot serve them;
    - dependency names: one hidden by a ``ctx`` attribute or by what a middleware sets
      on ``ctx``, or registered by a mounted app with a different factory;
    - routes: two handlers for one method and rule, one name for two rules, a URL
      argument the handler does not accept;
    - optional packages the app's features use but are missing.
    """
    from .app import Lcore

    report = CheckReport()
    apps = list(_apps(app))
    ws_routes = [(prefix, r) for prefix, a in apps for r in a.__dict__.get("ws_routes", ())]
    n_routes = sum(1 for _p, a in apps for r in a.routes if r._mount is None)
    n_mw = len(list(app.middleware.pre)) + len(list(app.middleware.post))
    report.summary = (
        f"{n_routes} route{'s' * (n_routes != 1)}, {len(ws_routes)} WebSocket route"
        f"{'s' * (len(ws_routes) != 1)}, {n_mw} middleware, "
        f"{len(app.dependencies)} dependenc{'ies' if len(app.dependencies) != 1 else 'y'}"
    )
    _check_config(app, schema, report)
    _check_websockets(ws_routes, wsgi_only, report)
    for prefix, each in apps:
        _check_dependencies(each, prefix, report)
        _check_routes(each, prefix, report)
    if any(isinstance(a, Lcore) for _p, a in apps[1:]):
        _check_mounted_dependencies(apps, report)
    _check_packages(app, report)
    if app.config.get("debug"):
        report.notes.append(
            "debug is on: error pages show tracebacks and /docs is served; turn it off in production"
        )
    return report


def _apps(app: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    from .app import Lcore

    yield prefix, app
    for norm, child in app.mounts:
        if isinstance(child, Lcore):
            yield from _apps(child, prefix + norm.rstrip("/"))


def _check_config(app: Any, schema: Any, report: CheckReport) -> None:
    schema = schema if schema is not None else getattr(app, "config_schema", None)
    if schema is None:
        return
    try:
        _ok, errors = app.config.check_config(schema)
    except TypeError as exc:
        report.problems.append(f"config schema: {exc}")
        return
    report.problems += [f"config: {e}" for e in errors]


def _check_websockets(
    ws_routes: list[tuple[str, Any]], wsgi_only: bool, report: CheckReport
) -> None:
    if not ws_routes:
        return
    rules = ", ".join(prefix + r.rule for prefix, r in ws_routes)
    if not available("websockets"):
        report.problems.append(
            f"WebSocket routes ({rules}) need the 'websockets' package: {install_hint('websockets')}"
        )
    if wsgi_only:
        report.problems.append(
            f"WebSocket routes ({rules}) cannot be served by a WSGI server: run "
            "python -m lcore_ws APP beside it, or serve the app with an ASGI server"
        )
    else:
        report.notes.append(
            f"WebSocket routes ({rules}) need an ASGI server (uvicorn, python -m lcore_asgi) or, "
            "beside a WSGI server, python -m lcore_ws APP"
        )


def _check_dependencies(app: Any, prefix: str, report: CheckReport) -> None:
    from .app import _CTX_NAMES

    where = f" (app mounted at {prefix})" if prefix else ""
    names = app.dependencies.names()
    for name in names:
        if name in _CTX_NAMES:
            report.problems.append(
                f"dependency {name!r}{where}: ctx.{name} is a built-in RequestContext attribute "
                "and hides it; register it under another name"
            )
    set_by: dict[str, str] = {}
    for entry in (*app.middleware.pre, *app.middleware.post):
        mw = entry.mw
        attrs = getattr(mw, "ctx_attributes", None) or _MIDDLEWARE_CTX_NAMES.get(
            type(mw).__name__, ()
        )
        for attr in attrs:
            set_by.setdefault(attr, type(mw).__name__)
    for name in names:
        if name in set_by:
            report.problems.append(
                f"dependency {name!r}{where}: {set_by[name]} sets ctx.{name} on every request, "
                "which hides the dependency; register it under another name"
            )


def _check_mounted_dependencies(apps: list[tuple[str, Any]], report: CheckReport) -> None:
    seen: dict[str, tuple[str, Any]] = {}
    for prefix, each in apps:
        for name in each.dependencies.names():
            factory = each.dependencies._providers[name].factory
            if name in seen and seen[name][1] is not factory:
                first = f"the app mounted at {seen[name][0]}" if seen[name][0] else "the app"
                here = f"the app mounted at {prefix}" if prefix else "the app"
                report.problems.append(
                    f"dependency {name!r} is registered by {first} and by {here} with different "
                    "factories: ctx.{0} depends on which app serves the request".format(name)
                )
            seen.setdefault(name, (prefix, factory))


def _check_routes(app: Any, prefix: str, report: CheckReport) -> None:
    by_rule: dict[tuple[str, str], list[str]] = {}
    by_name: dict[str, set[str]] = {}
    for route in app.routes:
        if route._mount is not None:
            continue
        cb = route.get_undecorated_callback()
        rule = prefix + route.rule
        by_rule.setdefault((route.method, rule), []).append(_handler_label(cb))
        if route.name:
            by_name.setdefault(route.name, set()).add(rule)
        missing = _unaccepted_args(app, route.rule, cb)
        if missing:
            report.problems.append(
                f"route {route.method} {rule}: the handler {_handler_label(cb)}() does not accept "
                f"the URL argument{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                "every request to it would fail"
            )
    for (method, rule), handlers in by_rule.items():
        if len(handlers) > 1:
            report.problems.append(
                f"route {method} {rule} is registered {len(handlers)} times "
                f"({', '.join(handlers)}); only one of them can answer"
            )
    for name, rules in by_name.items():
        if len(rules) > 1:
            report.problems.append(
                f"route name {name!r} is used by {len(rules)} rules ({', '.join(sorted(rules))}); "
                "app.get_url() can build only one of them"
            )


def _unaccepted_args(app: Any, rule: str, cb: Any) -> list[str]:
    try:
        params = inspect.signature(cb).parameters.values()
    except (TypeError, ValueError):
        return []
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return []
    accepted = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    keys = [key for _text, key, _mode, _conf in app.router._parse(rule) if key]
    return [k for k in keys if k not in accepted]


def _check_packages(app: Any, report: CheckReport) -> None:
    for entry in (*app.middleware.pre, *app.middleware.post):
        mw = entry.mw
        if type(mw).__name__ == "CompressionMiddleware" and getattr(mw, "brotli", None) is None:
            if not available("brotli"):
                report.notes.append(
                    f"CompressionMiddleware sends gzip only: Brotli needs the 'brotli' package "
                    f"({install_hint('brotli')})"
                )


def check_main(
    app: Any, spec: str, argv: Sequence[str], prog: str = "python -m lcore check"
) -> int:
    """``python -m lcore check APP [--wsgi] [--schema MOD:DATACLASS]``: print the report."""
    p = argparse.ArgumentParser(
        prog=f"{prog} {spec}", description="Look for problems in an app before deploying it."
    )
    p.add_argument(
        "--wsgi",
        action="store_true",
        help="the app is deployed under a WSGI server only (WebSocket routes are then a problem)",
    )
    p.add_argument(
        "--schema", metavar="MODULE:DATACLASS", help="check the config against this dataclass"
    )
    args = p.parse_args(list(argv))
    schema = None
    if args.schema:
        from ._utils import load

        schema = load(args.schema)
    report = check(app, wsgi_only=args.wsgi, schema=schema)
    report.summary = f"{spec}: {report.summary}"
    print(report.render())
    return 0 if report.ok else 1
