"""Templates: the built-in SimpleTemplate engine, Jinja2/Mako/Cheetah adapters, ``template``, ``view``.

``template('hello', name='World')`` finds ``hello.tpl`` (or ``.html``, ``.thtml``,
``.stpl``) in ``TEMPLATE_PATH``, compiles it once into ``TEMPLATES`` and renders it. A
string that contains a newline, ``{``, ``%`` or ``$`` is taken as template source instead.
``@view('page')`` renders the dict a handler returns. Rendering executes the template's
Python code: never render templates from untrusted sources.

Every adapter HTML-escapes inserted values by default, whatever the file's extension;
turning that off is explicit, with each engine's own setting: ``noescape=True``
(SimpleTemplate), ``autoescape=False`` (Jinja2), ``default_filters=['str']`` (Mako),
``filter='RawOrEncodedUnicode'`` (Cheetah).
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from ._utils import html_escape, touni
from .context import _current_or_none
from .exceptions import TemplateError
from .template_compiler import _TOO_DEEP, _template_error, compile_stpl

__all__ = [
    "TEMPLATE_PATH",
    "TEMPLATES",
    "BaseTemplate",
    "SimpleTemplate",
    "Jinja2Template",
    "MakoTemplate",
    "CheetahTemplate",
    "template",
    "view",
    "jinja2_template",
    "jinja2_view",
    "mako_template",
    "mako_view",
    "cheetah_template",
    "cheetah_view",
]

#: Directories searched for templates given by name, in order.
TEMPLATE_PATH: list[str] = ["./", "./views/"]
"""Directories searched for templates given by name, in order."""
#: Compiled templates, keyed by (adapter, lookup dirs, name or source, settings).
TEMPLATES: dict[Any, BaseTemplate] = {}
"""Compiled templates, keyed by (adapter, lookup dirs, name or source, settings)."""
#: Debug mode for templates alone: templates given by name are read and compiled again
#: on every render, so edits show up at once. ``lcore.debug(True)`` and an app's
#: ``debug`` config (for that app's requests) do the same without setting this.
DEBUG = False


def _set_debug(flag: bool) -> None:
    """Turn template debug mode on or off (recompile on every ``template()`` call)."""
    global DEBUG
    DEBUG = bool(flag)


def _debug_mode() -> bool:
    """Whether templates are recompiled on each render instead of taken from ``TEMPLATES``.

    True when this module's ``DEBUG`` is set, after ``lcore.debug(True)``, or while a
    request of an app whose ``debug`` config is true is being handled.
    """
    if DEBUG:
        return True
    package = sys.modules.get(__package__ or "lcore")
    if getattr(package, "DEBUG", False):
        return True
    current = _current_or_none()
    app = getattr(current, "app", None) if current is not None else None
    return app is not None and bool(app.config.get("debug", False))


class _EngineMissing(TemplateError, ImportError):
    """A template engine package is not installed."""


# --------------------------------------------------------------------------- base class


class BaseTemplate:
    """Base class of the template adapters: finds the template and holds its settings.

    Give either ``source`` (template text, bytes or a file object) or ``name`` (looked up
    in ``lookup``, default ``TEMPLATE_PATH``, with the extensions in ``extensions``).
    ``settings`` go to ``prepare``; class-wide defaults live in ``settings`` (see
    ``global_config``) and default template variables in ``defaults``.
    """

    extensions: list[str] = ["tpl", "html", "thtml", "stpl"]
    settings: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    #: (module to import, pip requirement) for adapters of optional engines.
    _engine: tuple[str, str] | None = None

    def __init__(
        self,
        source: Any = None,
        name: str | None = None,
        lookup: list[str] | tuple[str, ...] | None = None,
        encoding: str = "utf8",
        **settings: Any,
    ) -> None:
        self._require_engine()
        if hasattr(source, "read"):
            source = source.read()
        if isinstance(source, (bytes, bytearray)):
            source = bytes(source).decode(encoding)
        self.source: str | None = source
        self.name = name
        self.encoding = encoding
        self.lookup = [os.path.abspath(p) for p in (TEMPLATE_PATH if lookup is None else lookup)]
        self.settings = {**type(self).settings, **settings}
        self.filename: str | None = None
        if self.source is None:
            if not name:
                raise TemplateError("No template given: pass source= or name=.")
            self.filename = self.search(name, self.lookup)
            if self.filename is None:
                searched = ", ".join(self.lookup) or "(no directories)"
                raise TemplateError(f"Template {name!r} not found (searched: {searched}).")
        self.prepare(**self.settings)

    @classmethod
    def _require_engine(cls) -> None:
        if cls._engine is None:
            return
        from ._extras import available, install_hint

        module = cls._engine[0]
        if not available(module):
            raise _EngineMissing(
                f"{cls.__name__} needs the {module!r} package: {install_hint(module)}"
            )

    @classmethod
    def search(cls, name: str, lookup: list[str] | tuple[str, ...] | None = None) -> str | None:
        """Return the path of template ``name`` in the ``lookup`` directories, or None.

        ``name`` itself is tried first, then ``name`` plus each of ``extensions``.
        Names that resolve (symlinks included) outside a lookup directory are refused.
        """
        for directory in TEMPLATE_PATH if lookup is None else lookup:
            root = os.path.realpath(directory)
            base = os.path.join(root, name)
            for path in (base, *(f"{base}.{ext}" for ext in cls.extensions)):
                try:
                    real = os.path.realpath(path)
                except (ValueError, OSError):  # e.g. a NUL byte in the name
                    return None
                inside = real.startswith(os.path.join(root, ""))
                if inside and os.path.isfile(real):
                    return real
        return None

    @classmethod
    def global_config(cls, key: str, *args: Any) -> Any:
        """Read (``global_config(key)``) or set (``global_config(key, value)``) a class-wide setting."""
        if args:
            cls.settings = {**cls.settings, key: args[0]}
            return None
        return cls.settings[key]

    def prepare(self, **options: Any) -> None:
        """Compile the template; called once by ``__init__`` with the settings."""
        raise NotImplementedError

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Render with the variables of the dicts in ``args`` and of ``kwargs`` (which win)."""
        raise NotImplementedError

    def _variables(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        env = dict(self.defaults)
        for dictarg in args:
            env.update(dictarg)
        env.update(kwargs)
        return env

    def _read(self) -> str:
        if self.source is not None:
            return self.source
        assert self.filename is not None
        with open(self.filename, "rb") as fp:
            return fp.read().decode(self.encoding)

    @property
    def _label(self) -> str:
        return self.name or self.filename or "<string>"


# --------------------------------------------------------------------------- stpl scanning


class SimpleTemplate(BaseTemplate):
    """The built-in template engine ("stpl"), compiled once to Python code.

    ``{{expr}}`` inserts the HTML-escaped value (None becomes ''), ``{{!expr}}`` the raw
    value. Lines starting with ``%`` and ``<% ... %>`` blocks are Python; indentation is
    ignored and blocks end with ``% end``. A line starting with ``%%`` or ``\\%`` is text
    that starts with ``%``. A text line ending in ``\\\\`` is joined to the code after it.
    Templates can call ``include(name, **vars)``, ``rebase(name, **vars)`` (the output so
    far becomes the variable ``base`` of that template), ``get(name, default=None)``,
    ``defined(name)`` and ``setdefault(name, default)``.

    Settings: ``noescape=True`` makes ``{{expr}}`` raw and ``{{!expr}}`` escaped;
    ``escape_func`` replaces ``html_escape``; ``syntax='<% %> % {{ }}'`` sets the block,
    line and inline tokens. A source that does not compile (a syntax error, an expression
    nested or chained too deeply, a lone surrogate in code) raises ``TemplateError``
    naming template and line, never another exception.
    """

    def prepare(
        self,
        escape_func: Callable[[str], str] = html_escape,
        noescape: bool = False,
        syntax: str | None = None,
        **options: Any,
    ) -> None:
        """Compile the template with the given settings."""
        encoding = self.encoding
        tokens = (syntax or "<% %> % {{ }}").split()
        if len(tokens) != 5:
            raise TemplateError(f"syntax needs 5 tokens, got {syntax!r}")
        self.syntax = " ".join(tokens)

        def as_text(value: Any) -> str:
            return touni(value, encoding)

        def escaped(value: Any) -> str:
            return escape_func(touni(value, encoding))

        self._str, self._escape = (escaped, as_text) if noescape else (as_text, escaped)
        self._filename = self.filename or f"<template {self._label}>"
        self.code, self.co = compile_stpl(self._read(), tokens, self._label, self._filename)

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Render with the variables of the dicts in ``args`` and of ``kwargs`` (which win)."""
        stdout: list[str] = []
        env: dict[str, Any] = {}
        for dictarg in args:
            env.update(dictarg)
        env.update(kwargs)
        self.execute(stdout, env)
        return "".join(stdout)

    def execute(self, _stdout: list[str], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Run the template, appending its output to ``_stdout``; return its namespace."""
        env = dict(self.defaults)
        env.update(kwargs)
        env.update(
            {
                "_stdout": _stdout,
                "_w": _stdout.extend,
                "_e": self._escape,
                "_s": self._str,
                "_rebase": None,
                "include": functools.partial(self._include, env),
                "rebase": functools.partial(self._rebase, env),
                "get": env.get,
                "setdefault": env.setdefault,
                "defined": env.__contains__,
            }
        )
        start = len(_stdout)
        try:
            exec(self.co, env)
        except Exception as exc:
            self._note(exc)
            raise
        if env.get("_rebase"):
            name, rargs = env.pop("_rebase")
            rargs["base"] = "".join(_stdout[start:])
            del _stdout[start:]
            return self._include(env, name, **rargs)
        return env

    def _include(self, _env: dict[str, Any], _name: str, **kwargs: Any) -> dict[str, Any]:
        env = dict(_env)
        env.update(kwargs)
        sub = _get_template(type(self), _name, self.lookup, self.settings)
        return sub.execute(_env["_stdout"], env)  # type: ignore[attr-defined]

    @staticmethod
    def _rebase(_env: dict[str, Any], _name: str, **kwargs: Any) -> None:
        _env["_rebase"] = (_name, kwargs)

    def _note(self, exc: BaseException) -> None:
        lineno = None
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self._filename:
                lineno = tb.tb_lineno
            tb = tb.tb_next
        if lineno is not None and hasattr(exc, "add_note"):
            exc.add_note(f"while rendering template {self._label}, line {lineno}")


# --------------------------------------------------------------------------- other engines


class Jinja2Template(BaseTemplate):
    """Adapter for Jinja2 (``pip install jinja2``); jinja2 is imported on first use.

    Autoescaping is on for every template, whatever its extension (``.tpl`` and ``.txt``
    included); ``autoescape=False`` turns it off, and a function of the template name
    (``jinja2.select_autoescape(...)``) chooses per template. Settings ``filters``,
    ``tests`` and ``globals`` extend the environment; other settings go to
    ``jinja2.Environment``. ``{% include %}`` and ``{% extends %}`` find templates in the
    lookup directories.
    """

    _engine = ("jinja2", "jinja2")

    def prepare(
        self,
        filters: dict[str, Any] | None = None,
        tests: dict[str, Any] | None = None,
        globals: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        """Build the Jinja2 environment and compile the template."""
        import jinja2

        options.setdefault("autoescape", True)
        self.env = jinja2.Environment(loader=jinja2.FunctionLoader(self._load), **options)
        self.env.filters.update(filters or {})
        self.env.tests.update(tests or {})
        self.env.globals.update(globals or {})
        try:
            if self.source is not None:
                self.tpl = self.env.from_string(self.source)
            else:
                self.tpl = self.env.get_template(self.name or "")
        except jinja2.TemplateSyntaxError as exc:
            label = exc.name or self._label
            raise _template_error(exc.message or "syntax error", label, exc.lineno) from exc
        except (RecursionError, MemoryError) as exc:  # Jinja2's parser recurses per operator
            raise _template_error(_TOO_DEEP, self._label) from exc

    def _load(self, name: str) -> tuple[str, str, Callable[[], bool]] | None:
        path = self.search(name, self.lookup)
        if path is None:
            return None
        with open(path, "rb") as fp:
            text = fp.read().decode(self.encoding)
        mtime = os.path.getmtime(path)
        return text, path, lambda: os.path.isfile(path) and os.path.getmtime(path) == mtime

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Render with the variables of the dicts in ``args`` and of ``kwargs`` (which win)."""
        return str(self.tpl.render(**self._variables(args, kwargs)))


class MakoTemplate(BaseTemplate):
    """Adapter for Mako (``pip install mako``); settings go to ``mako.template.Template``.

    ``${expr}`` is HTML-escaped (the default filter is Mako's ``h``); ``${expr | n}``
    inserts one value raw, and ``default_filters=['str']`` turns escaping off.
    """

    _engine = ("mako", "mako")

    def prepare(self, **options: Any) -> None:
        """Compile the template with Mako; ``<%include>`` uses the lookup directories."""
        from mako.exceptions import MakoException
        from mako.lookup import TemplateLookup
        from mako.template import Template

        options.setdefault("input_encoding", self.encoding)
        options.setdefault("default_filters", ["h"])
        lookup = TemplateLookup(directories=self.lookup, **options)
        try:
            if self.source is not None:
                self.tpl = Template(self.source, lookup=lookup, **options)
            else:
                self.tpl = Template(uri=self.name, filename=self.filename, lookup=lookup, **options)
        except MakoException as exc:
            raise _template_error(str(exc), self._label) from exc

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Render with the variables of the dicts in ``args`` and of ``kwargs`` (which win)."""
        return str(self.tpl.render(**self._variables(args, kwargs)))


class CheetahTemplate(BaseTemplate):
    """Adapter for Cheetah (``pip install cheetah3``); settings go to ``Template.compile``.

    ``$placeholders`` are HTML-escaped with ``html_escape``; the ``filter`` setting (a
    name in ``Cheetah.Filters`` or a ``Filter`` class, e.g. ``'RawOrEncodedUnicode'``,
    Cheetah's own unescaped default) replaces that.
    """

    _engine = ("Cheetah", "cheetah3")

    def prepare(self, filter: Any = None, **options: Any) -> None:
        """Compile the template into a Cheetah template class."""
        from Cheetah.Template import Template

        self._filter = _cheetah_escape() if filter is None else filter
        if self.source is not None:
            self.tpl_class = Template.compile(source=self.source, **options)
        else:
            self.tpl_class = Template.compile(file=self.filename, **options)

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Render with the variables of the dicts in ``args`` and of ``kwargs`` (which win)."""
        # A fresh instance per call keeps concurrent renders from sharing variables.
        return str(self.tpl_class(searchList=[self._variables(args, kwargs)], filter=self._filter))


@functools.cache
def _cheetah_escape() -> type:
    """The Cheetah filter class that HTML-escapes placeholders (made once, on first use)."""
    from Cheetah.Filters import Filter

    class HTMLEscape(Filter):
        def filter(self, val: Any, **kw: Any) -> str:
            return html_escape(super().filter(val, **kw))

    return HTMLEscape


# --------------------------------------------------------------------------- helpers


def _is_source(tpl: str) -> bool:
    return "\n" in tpl or "{" in tpl or "%" in tpl or "$" in tpl


def _settings_key(settings: Mapping[str, Any]) -> Any:
    items = tuple(sorted(settings.items()))
    try:
        hash(items)
    except TypeError:
        return repr(items)
    return items


def _get_template(
    adapter: type[BaseTemplate],
    tpl: str,
    lookup: list[str] | tuple[str, ...] | None,
    settings: Mapping[str, Any],
) -> BaseTemplate:
    """Return the compiled template for a name or source, from ``TEMPLATES`` when possible."""
    dirs = tuple(os.path.abspath(p) for p in (TEMPLATE_PATH if lookup is None else lookup))
    key = (adapter, dirs, tpl, _settings_key(settings))
    cached = TEMPLATES.get(key)
    # In debug mode a template file is read again (it may have been edited); source
    # given as a string cannot change and stays cached.
    if cached is not None and (cached.filename is None or not _debug_mode()):
        return cached
    if _is_source(tpl):
        cached = adapter(source=tpl, lookup=dirs, **settings)
    else:
        cached = adapter(name=tpl, lookup=dirs, **settings)
    TEMPLATES[key] = cached
    return cached


def template(
    tpl: Any,
    *args: Mapping[str, Any],
    template_adapter: type[BaseTemplate] = SimpleTemplate,
    template_lookup: list[str] | None = None,
    template_settings: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> str:
    """Render a template given by name, source or object, and return the text.

    A string containing a newline, ``{``, ``%`` or ``$`` is template source; any other
    string is a name looked up in ``template_lookup`` (default ``TEMPLATE_PATH``).
    Variables come from the dicts in ``args`` and then ``kwargs``. Compiled templates
    are cached in ``TEMPLATES``; in debug mode (``lcore.debug(True)``, the app's
    ``debug`` config, or ``lcore.templates.DEBUG``) template files are read again.
    """
    if isinstance(tpl, BaseTemplate):
        obj = tpl
    else:
        obj = _get_template(template_adapter, tpl, template_lookup, template_settings or {})
    variables: dict[str, Any] = {}
    for dictarg in args:
        variables.update(dictarg)
    variables.update(kwargs)
    return obj.render(variables)


def view(
    tpl_name: str, template_adapter: type[BaseTemplate] = SimpleTemplate, **defaults: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a handler so that the dict it returns is rendered with ``tpl_name``.

    The dict is merged over ``defaults``; None renders ``defaults`` alone; any other
    result (a string, an ``HTTPResponse``...) is returned unchanged. Works on plain and
    ``async def`` handlers and keeps their name, docstring and signature.
    """

    def render(result: Any) -> Any:
        if isinstance(result, Mapping):
            variables = dict(defaults)
            variables.update(result)
            return template(tpl_name, template_adapter=template_adapter, **variables)
        if result is None:
            return template(tpl_name, template_adapter=template_adapter, **defaults)
        return result

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return render(await func(*args, **kwargs))

            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return render(func(*args, **kwargs))

        return wrapper

    return decorator


def jinja2_template(tpl: Any, *args: Mapping[str, Any], **kwargs: Any) -> str:
    """Render a Jinja2 template like ``template`` does (needs ``pip install jinja2``)."""
    return template(tpl, *args, template_adapter=Jinja2Template, **kwargs)


def jinja2_view(
    tpl_name: str, **defaults: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Like ``view``, rendering with Jinja2."""
    return view(tpl_name, template_adapter=Jinja2Template, **defaults)


def mako_template(tpl: Any, *args: Mapping[str, Any], **kwargs: Any) -> str:
    """Render a Mako template like ``template`` does (needs ``pip install mako``)."""
    return template(tpl, *args, template_adapter=MakoTemplate, **kwargs)


def mako_view(tpl_name: str, **defaults: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Like ``view``, rendering with Mako."""
    return view(tpl_name, template_adapter=MakoTemplate, **defaults)


def cheetah_template(tpl: Any, *args: Mapping[str, Any], **kwargs: Any) -> str:
    """Render a Cheetah template like ``template`` does (needs ``pip install cheetah3``)."""
    return template(tpl, *args, template_adapter=CheetahTemplate, **kwargs)


def cheetah_view(
    tpl_name: str, **defaults: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Like ``view``, rendering with Cheetah."""
    return view(tpl_name, template_adapter=CheetahTemplate, **defaults)
