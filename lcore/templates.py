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

import ast
import functools
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

from ._utils import html_escape, touni
from .exceptions import TemplateError

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
#: Compiled templates, keyed by (adapter, lookup dirs, name or source, settings).
TEMPLATES: dict[Any, BaseTemplate] = {}
#: In debug mode the cache is bypassed, so edited templates show up on the next render.
DEBUG = False


def _set_debug(flag: bool) -> None:
    """Turn template debug mode on or off (recompile on every ``template()`` call)."""
    global DEBUG
    DEBUG = bool(flag)


class _EngineMissing(TemplateError, ImportError):
    """A template engine package is not installed."""


def _template_error(message: str, label: str, lineno: int | None = None) -> TemplateError:
    where = f"{label}, line {lineno}" if lineno else label
    exc = TemplateError(f"{where}: {message}")
    exc.template = label  # type: ignore[attr-defined]
    exc.lineno = lineno  # type: ignore[attr-defined]
    return exc


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
        module, requirement = cls._engine
        if importlib.util.find_spec(module) is None:
            raise _EngineMissing(
                f"{cls.__name__} needs the {module!r} package: pip install {requirement}"
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


def _skip_string(text: str, pos: int) -> int:
    """Return the index after the string literal starting at ``pos``, or -1 if unterminated."""
    quote = text[pos]
    delim = quote * 3 if text.startswith(quote * 3, pos) else quote
    i, n = pos + len(delim), len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "\n" and len(delim) == 1:
            return -1
        if text.startswith(delim, i):
            return i + len(delim)
        i += 1
    return -1


def _find_close(text: str, pos: int, close: str, comments: bool = False) -> int:
    """Return where ``close`` appears in ``text`` after ``pos``, outside strings and brackets."""
    depth, n = 0, len(text)
    while pos < n:
        if depth == 0 and text.startswith(close, pos):
            return pos
        ch = text[pos]
        if ch in "'\"":
            end = _skip_string(text, pos)
            pos = end if end > 0 else pos + 1
            continue
        if ch == "#" and comments:
            newline, found = text.find("\n", pos), text.find(close, pos)
            if found >= 0 and (newline < 0 or found < newline):
                return found
            pos = n if newline < 0 else newline
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}" and depth:
            depth -= 1
        pos += 1
    return -1


def _statements(code: str) -> tuple[list[tuple[str, int]], bool]:
    """Split Python code into logical lines ``(text, line offset)``; flag if it is complete."""
    statements: list[tuple[str, int]] = []
    start = start_line = line = depth = 0
    continued = False
    i, n = 0, len(code)
    while i < n:
        ch = code[i]
        if ch in "'\"":
            end = _skip_string(code, i)
            if end < 0:
                if code.startswith(ch * 3, i):  # an open triple-quoted string
                    statements.append((code[start:], start_line))
                    return statements, False
                i += 1
                continue
            line += code.count("\n", i, end)
            i, continued = end, False
            continue
        if ch == "#":
            newline = code.find("\n", i)
            i = n if newline < 0 else newline
            continue
        if ch == "\\" and code[i + 1 : i + 2] in ("\n", "\r", ""):
            i = code.find("\n", i)
            i = n if i < 0 else i + 1
            line += 1
            continued = True
            continue
        if ch == "\n":
            line += 1
            if depth == 0:
                statements.append((code[start:i], start_line))
                start, start_line = i + 1, line
        elif not ch.isspace():
            continued = False
            if ch in "([{":
                depth += 1
            elif ch in ")]}" and depth:
                depth -= 1
        i += 1
    if start < n:
        statements.append((code[start:], start_line))
    return statements, depth == 0 and not continued


def _strip_comment(statement: str) -> str:
    i, n = 0, len(statement)
    while i < n:
        ch = statement[i]
        if ch in "'\"":
            end = _skip_string(statement, i)
            i = end if end > 0 else i + 1
            continue
        if ch == "#":
            return statement[:i]
        i += 1
    return statement


_LINES = re.compile(r"[^\n]*\n|[^\n]+")
_END = re.compile(r"end\s*(?:;\s*)?$")
_DEDENT_WORDS = frozenset({"elif", "else", "except", "finally", "except*"})
_FIRST_WORD = re.compile(r"[A-Za-z_]+\*?")


class _StplCompiler:
    """Translate SimpleTemplate source into Python source plus a line map."""

    def __init__(self, source: str, tokens: list[str], label: str) -> None:
        self.source = source
        self.block_start, self.block_close, self.line_start = tokens[0], tokens[1], tokens[2]
        self.inline_start, self.inline_end = tokens[3], tokens[4]
        self.label = label
        self.out: list[tuple[str, int]] = []  # (python line, template line)
        self.blocks: list[list[Any]] = []  # [has_body, line] per open block
        self.text: list[tuple[str, int]] = []  # pending text lines
        # Each expression and statement alone, compilable, with its template line: when
        # compiling the whole fails without saying where, they are tried one by one.
        self.snippets: list[tuple[str, int]] = []

    def error(self, message: str, lineno: int) -> TemplateError:
        return _template_error(message, self.label, lineno)

    def translate(self) -> tuple[str, list[int]]:
        # Only "\n" ends a line: form feeds or U+2028 in markup must not start new lines.
        lines = _LINES.findall(self.source)
        offsets = [0]
        for text in lines:
            offsets.append(offsets[-1] + len(text))
        escapes = ("\\" + self.block_start, "\\" + self.line_start)
        i = 0
        while i < len(lines):
            line, lineno = lines[i], i + 1
            body = line.lstrip(" \t")
            indent = line[: len(line) - len(body)]
            if body.startswith(escapes):
                self.text.append((indent + body[1:], lineno))
                i += 1
            elif body.startswith(self.line_start * 2):
                self.text.append((indent + body[len(self.line_start) :], lineno))
                i += 1
            elif body.startswith(self.block_start):
                i = self._block(lines, offsets, i, len(indent) + len(self.block_start))
            elif body.startswith(self.line_start):
                code, j = body[len(self.line_start) :], i
                while not _statements(code)[1] and j + 1 < len(lines):
                    j += 1
                    code += lines[j]
                if not _statements(code)[1]:
                    raise self.error("unclosed bracket, string or line continuation", lineno)
                self._flush_text(before_code=True)
                self._code(code, lineno)
                i = j + 1
            else:
                self.text.append((line, lineno))
                i += 1
        self._flush_text(before_code=False)
        last = len(lines) or 1
        while self.blocks:  # blocks left open at the end are closed silently
            self._dedent(last)
        return "\n".join(code for code, _ in self.out) + "\n", [ln for _, ln in self.out]

    def _block(self, lines: list[str], offsets: list[int], i: int, skip: int) -> int:
        start = offsets[i] + skip
        close = _find_close(self.source, start, self.block_close, comments=True)
        if close < 0:
            raise self.error(f"{self.block_start!r} block is never closed", i + 1)
        self._flush_text(before_code=True)
        self._code(self.source[start:close], i + 1)
        end = close + len(self.block_close)
        j = i
        while offsets[j + 1] <= end and j + 1 < len(lines):
            j += 1
        rest = self.source[end : offsets[j + 1]]
        if rest.strip():
            self.text.append((rest, j + 1))
        return j + 1

    def _code(self, code: str, lineno: int) -> None:
        for statement, offset in _statements(code)[0]:
            statement = statement.strip()
            if statement:
                self._statement(statement, lineno + offset)

    def _statement(self, statement: str, lineno: int) -> None:
        head = _strip_comment(statement).strip()
        if not head:
            return
        if _END.match(head):
            if not self.blocks:
                raise self.error("'end' without an open block", lineno)
            self._dedent(lineno)
            return
        word = _FIRST_WORD.match(head)
        if word and word.group() in _DEDENT_WORDS and self.blocks:
            self._dedent(lineno)
        self._emit(statement, lineno)
        alone = statement + "\n pass" if head.endswith(":") else statement
        if word and word.group() in _DEDENT_WORDS:
            opener = "if 1:" if word.group() in ("elif", "else") else "try:"
            alone = opener + "\n pass\n" + alone
        self.snippets.append((alone, lineno))
        if head.endswith(":"):
            self.blocks.append([False, lineno])

    def _emit(self, code: str, lineno: int, extra_indent: int = 0) -> None:
        if self.blocks:
            self.blocks[-1][0] = True
        pad = "    " * (len(self.blocks) + extra_indent)
        first, *more = code.split("\n")
        self.out.append((pad + first.rstrip("\r"), lineno))
        for k, part in enumerate(more, 1):
            self.out.append((part.rstrip("\r"), lineno + k))

    def _dedent(self, lineno: int) -> None:
        has_body, _ = self.blocks[-1]
        if not has_body:
            self._emit("pass", lineno)
        self.blocks.pop()

    def _flush_text(self, before_code: bool) -> None:
        if not self.text:
            return
        chunk, first = "".join(text for text, _ in self.text), self.text[0][1]
        self.text = []
        if before_code:  # a text line ending in two backslashes joins the code that follows
            for ending in ("\\\\\r\n", "\\\\\n"):
                if chunk.endswith(ending):
                    chunk = chunk[: -len(ending)]
                    break
        pieces: list[tuple[str, int]] = []
        pos = 0
        while pos < len(chunk):
            found = chunk.find(self.inline_start, pos)
            literal = chunk[pos:] if found < 0 else chunk[pos:found]
            if literal:
                pieces.append((repr(literal) + ",", first + chunk.count("\n", 0, pos)))
            if found < 0:
                break
            start = found + len(self.inline_start)
            close = _find_close(chunk, start, self.inline_end)
            if close < 0:
                line = first + chunk.count("\n", 0, found)
                raise self.error(f"{self.inline_start!r} is never closed", line)
            raw = chunk[start:close]
            expr = raw.strip()
            line = first + chunk.count("\n", 0, start + len(raw) - len(raw.lstrip()))
            func = "_e"
            if expr.startswith("!"):
                func, expr = "_s", expr[1:].strip()
            if not expr:
                raise self.error("empty inline expression", line)
            pieces.append((f"{func}(({expr}", line))
            self.snippets.append((f"({expr}\n)", line))
            pieces.append(("\n)),", line + expr.count("\n")))
            pos = close + len(self.inline_end)
        if not pieces:
            return
        self._emit("_w((", pieces[0][1])
        for code, line in pieces:
            if code.startswith("\n"):  # closes an expression, on the expression's last line
                self.out.append((code[1:], line))
            else:
                self._emit(code, line, extra_indent=1)
        self._emit("))", self.out[-1][1])


_TOO_DEEP = "cannot be compiled: an expression is nested or chained too deeply"


def _failing_line(snippets: list[tuple[str, int]], error: type[BaseException]) -> int:
    """The template line of the first snippet that alone fails to compile with ``error``.

    Falls back on the line of the longest snippet (the likeliest culprit), or line 1.
    """
    for code, lineno in snippets:
        try:
            compile(code, "<snippet>", "exec")
        except error:
            return lineno
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            continue
    return max(snippets, key=lambda item: len(item[0]))[1] if snippets else 1


def _remap_lines(tree: ast.AST, linemap: list[int]) -> None:
    """Give every node of ``tree`` the template line numbers of its generated lines."""
    last = len(linemap)
    for node in ast.walk(tree):
        lineno = getattr(node, "lineno", None)
        if lineno is None:
            continue
        end_lineno = getattr(node, "end_lineno", None) or lineno
        node.lineno = linemap[min(max(lineno, 1), last) - 1]  # type: ignore[attr-defined]
        node.end_lineno = linemap[min(max(end_lineno, 1), last) - 1]  # type: ignore[attr-defined]
        col, end_col = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
        if node.lineno == node.end_lineno and col is not None and end_col is not None:  # type: ignore[attr-defined]
            if end_col < col:
                node.end_col_offset = col  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- SimpleTemplate


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
        compiler = _StplCompiler(self._read(), tokens, self._label)
        self.code, linemap = compiler.translate()
        self.co = self._compile(self.code, linemap, compiler.snippets)

    def _compile(self, code: str, linemap: list[int], snippets: list[tuple[str, int]]) -> Any:
        """Compile the generated code; whatever goes wrong is a TemplateError with a line.

        Python's compiler refuses some sources with other errors than SyntaxError: a
        RecursionError or MemoryError for an expression nested or chained too deeply
        (``1+1+...`` 200,000 times), a UnicodeEncodeError for a lone surrogate, and on
        some Python versions a ValueError for a NUL byte.
        """
        mapped = False  # SyntaxError lines: generated code's until the tree is remapped
        try:
            if sys.version_info < (3, 11):
                # Python 3.10 builds the AST objects of ``ast.parse`` without a depth
                # guard and crashes the process on a deep tree; its compiler has one.
                compile(code, self._filename, "exec")
            tree = ast.parse(code, self._filename, "exec")
            _remap_lines(tree, linemap)
            mapped = True
            return compile(tree, self._filename, "exec")
        except SyntaxError as exc:
            lineno = exc.lineno
            if not mapped:
                lineno = linemap[min(max(lineno or 1, 1), len(linemap)) - 1] if linemap else 1
            raise _template_error(f"syntax error: {exc.msg}", self._label, lineno) from exc
        except (RecursionError, MemoryError, ValueError) as exc:
            if isinstance(exc, UnicodeError):
                message = "cannot be compiled: a character cannot be encoded (a lone surrogate?)"
            elif isinstance(exc, ValueError):
                message = f"cannot be compiled: {exc}"
            else:
                message = _TOO_DEEP
            lineno = _failing_line(snippets, type(exc))
            raise _template_error(message, self._label, lineno) from exc

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
        return sub.execute(_env["_stdout"], env)  # type: ignore[attr-defined, no-any-return]

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

    class HTMLEscape(Filter):  # type: ignore[misc]
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
    if cached is None or DEBUG:
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
    are cached in ``TEMPLATES`` (not in debug mode).
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
