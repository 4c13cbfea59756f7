"""The SimpleTemplate compiler: stpl source in, a Python code object with template lines out.

``compile_stpl`` scans the template (``%`` lines, ``<% %>`` blocks, ``{{ }}`` inline
expressions), translates it to Python source whose every line maps back to a template
line, and compiles it. Whatever goes wrong is a ``TemplateError`` naming the template
and the line. ``lcore.templates.SimpleTemplate`` runs the result; nothing here is API.
"""

from __future__ import annotations

import ast
import re
import sys
from types import CodeType
from typing import Any

from .exceptions import TemplateError

__all__ = ["compile_stpl"]


def _template_error(message: str, label: str, lineno: int | None = None) -> TemplateError:
    where = f"{label}, line {lineno}" if lineno else label
    exc = TemplateError(f"{where}: {message}")
    exc.template = label  # type: ignore[attr-defined]
    exc.lineno = lineno  # type: ignore[attr-defined]
    return exc


# --------------------------------------------------------------------------- scanning


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


def compile_stpl(source: str, tokens: list[str], label: str, filename: str) -> tuple[str, CodeType]:
    """Translate and compile stpl ``source``; return the generated Python and its code object.

    ``tokens`` are the five syntax tokens (block start and close, line start, inline
    start and end); ``label`` names the template in errors and ``filename`` is the code
    object's file name (tracebacks through the template show the template's lines).
    """
    compiler = _StplCompiler(source, tokens, label)
    code, linemap = compiler.translate()
    return code, _compile(code, linemap, compiler.snippets, label, filename)


def _compile(
    code: str, linemap: list[int], snippets: list[tuple[str, int]], label: str, filename: str
) -> CodeType:
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
            compile(code, filename, "exec")
        tree = ast.parse(code, filename, "exec")
        _remap_lines(tree, linemap)
        mapped = True
        return compile(tree, filename, "exec")
    except SyntaxError as exc:
        lineno = exc.lineno
        if not mapped:
            lineno = linemap[min(max(lineno or 1, 1), len(linemap)) - 1] if linemap else 1
        raise _template_error(f"syntax error: {exc.msg}", label, lineno) from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        if isinstance(exc, UnicodeError):
            message = "cannot be compiled: a character cannot be encoded (a lone surrogate?)"
        elif isinstance(exc, ValueError):
            message = f"cannot be compiled: {exc}"
        else:
            message = _TOO_DEEP
        lineno = _failing_line(snippets, type(exc))
        raise _template_error(message, label, lineno) from exc
