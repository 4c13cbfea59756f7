"""A push-based (sans-I/O) ``multipart/form-data`` parser (``FileUpload`` lives in ``lcore.uploads``).

The parser does no I/O of its own: the caller feeds it body chunks of any size and
calls :meth:`MultipartParser.close` at the end of the body::

    parser = MultipartParser(boundary, max_total_size=10 * 2**20)
    for chunk in body_chunks:
        parser.feed(chunk)
    parts = parser.close()

Every buffer is bounded by a constructor argument, and work is linear in the input size
whatever the chunking. Bad input raises :class:`~lcore.exceptions.MultipartError` with a
``status`` attribute: 413 when a size or count limit was exceeded, 400 when the body is
malformed.

Line breaks must be CRLF, as RFC 7578 requires; nested ``multipart/mixed`` parts are not
unpacked (such a part is one field whose value is the nested body).
"""

from __future__ import annotations

import io
import re
import tempfile
from typing import IO
from urllib.parse import unquote_to_bytes

from .exceptions import MultipartError
from .uploads import FileUpload  # re-exported (old import path)

__all__ = ["MultipartParser", "Part", "FileUpload", "parse_options_header"]

# Limits (defaults of MultipartParser).
DEFAULT_MAX_FIELDS = 1000
DEFAULT_MAX_FIELD_SIZE = 1024 * 1024
DEFAULT_MEMFILE_LIMIT = 64 * 1024
DEFAULT_MAX_HEADER_SIZE = 8192
DEFAULT_MAX_HEADERS = 16
# RFC 2046 allows 70 characters; some clients are longer, none sensibly past this.
_MAX_BOUNDARY = 200
# Spaces/tabs allowed between a boundary and its line break ("transport padding").
_MAX_PADDING = 256

_CRLF = b"\r\n"
_WS = b" \t"
_HEADER_END = b"\r\n\r\n"
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Any byte a header line must not contain once it has been split on CRLF.
_BAD_HEADER_BYTES = re.compile(rb"[\x00\r\n]")

# Parser states.
_PREAMBLE, _DELIMITER, _HEADERS, _BODY, _DONE = range(5)


def _malformed(message: str) -> MultipartError:
    err = MultipartError(message)
    err.status = 400  # type: ignore[attr-defined]
    return err


def _too_large(message: str) -> MultipartError:
    err = MultipartError(message)
    err.status = 413  # type: ignore[attr-defined]
    return err


# --------------------------------------------------------------------------- headers


def _decode_extended(value: str) -> str | None:
    """Decode an RFC 5987 ``charset'lang'percent-encoded`` value, or None if invalid."""
    charset, sep1, rest = value.partition("'")
    _lang, sep2, encoded = rest.partition("'")
    if not (sep1 and sep2):
        return None
    try:
        return unquote_to_bytes(encoded).decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return None


def _read_quoted(value: str, pos: int) -> tuple[str, int]:
    """Read a quoted-string whose opening quote is at ``pos - 1``; return (text, end)."""
    pieces = []
    n = len(value)
    start = pos
    while pos < n:
        char = value[pos]
        if char == "\\" and pos + 1 < n and value[pos + 1] in '"\\':
            # Only \" and \\ are treated as escapes: browsers send Windows paths such
            # as C:\dir\f.txt with bare backslashes.
            pieces.append(value[start:pos])
            start = pos + 1
            pos += 2
        elif char == '"':
            break
        else:
            pos += 1
    pieces.append(value[start:pos])
    return "".join(pieces), min(pos + 1, n)


def parse_options_header(value: str) -> tuple[str, dict[str, str]]:
    """Split a header like ``Content-Type`` into its main value and parameters.

    ``'form-data; name="a"; filename="x.txt"'`` gives ``('form-data', {'name': 'a',
    'filename': 'x.txt'})``. The main value and parameter names are lower-cased;
    quoted-string escapes are undone; RFC 2231/5987 extended parameters
    (``filename*=UTF-8''%E2%82%AC.txt`` and ``name*0*=...`` continuations) are decoded
    and take precedence over the plain form. Malformed parameters are skipped.
    """
    if not value:
        return "", {}
    semi = value.find(";")
    main = (value if semi < 0 else value[:semi]).strip().lower()
    options: dict[str, str] = {}
    extended: dict[str, str] = {}
    continued: dict[str, dict[int, tuple[str, bool]]] = {}
    pos, n = semi, len(value)
    while 0 <= pos < n:  # pos is at a ';'
        pos += 1
        nxt = value.find(";", pos)
        eq = value.find("=", pos, n if nxt < 0 else nxt)
        if eq < 0:  # a parameter without '=': skip it
            pos = nxt
            continue
        key = value[pos:eq].strip().lower()
        pos = eq + 1
        while pos < n and value[pos] in " \t":
            pos += 1
        if pos < n and value[pos] == '"':
            text, pos = _read_quoted(value, pos + 1)
            pos = value.find(";", pos)
        else:
            end = value.find(";", pos)
            text = value[pos : n if end < 0 else end].strip()
            pos = end
        if not key:
            continue
        if "*" not in key:
            options.setdefault(key, text)  # the first of duplicate parameters wins
            continue
        base, _, suffix = key.partition("*")
        if not suffix:
            decoded = _decode_extended(text)
            if decoded is not None:
                extended.setdefault(base, decoded)
            continue
        encoded = suffix.endswith("*")
        index = suffix[:-1] if encoded else suffix
        if index.isascii() and index.isdigit() and len(index) <= 3:
            continued.setdefault(base, {}).setdefault(int(index), (text, encoded))
    for base, pieces in continued.items():
        joined = _join_continuations(pieces)
        if joined is not None:
            options[base] = joined
    options.update(extended)
    return main, options


def _join_continuations(pieces: dict[int, tuple[str, bool]]) -> str | None:
    """Join RFC 2231 ``name*0``, ``name*1*``... pieces; None if they are unusable."""
    charset = "utf-8"
    data = bytearray()
    for index in range(len(pieces)):
        if index not in pieces:
            return None
        text, encoded = pieces[index]
        if encoded:
            if index == 0:
                charset, sep1, rest = text.partition("'")
                _lang, sep2, text = rest.partition("'")
                if not (sep1 and sep2):
                    return None
                charset = charset or "utf-8"
            data += unquote_to_bytes(text)
        else:
            data += text.encode("utf-8")
    try:
        return data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return None


# --------------------------------------------------------------------------- parts


class Part:
    """One part of a multipart body: a form field or an uploaded file.

    ``file`` holds the content, in memory (``io.BytesIO``) up to ``memfile_limit``
    bytes and in an anonymous temporary file beyond that; it is rewound when the part
    is complete. ``filename`` is the raw client-supplied name (never use it as a path;
    see :attr:`FileUpload.filename`).
    """

    def __init__(
        self,
        name: str,
        filename: str | None,
        content_type: str,
        charset: str,
        headers: list[tuple[str, str]],
        memfile_limit: int = DEFAULT_MEMFILE_LIMIT,
        spool_dir: str | None = None,
    ) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.charset = charset
        self.headers = headers
        self.size = 0
        self.file: IO[bytes] = io.BytesIO()
        self._memfile_limit = memfile_limit
        self._spool_dir = spool_dir
        self._in_memory = True

    @property
    def is_file(self) -> bool:
        """True when the part carries a ``filename`` parameter (an upload)."""
        return self.filename is not None

    def is_buffered(self) -> bool:
        """Return True while the content is held in memory rather than on disk."""
        return self._in_memory

    def get_header(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of a part header (case-insensitive), or ``default``."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    def _write(self, data: bytes | bytearray) -> None:
        if self._in_memory and self.size + len(data) > self._memfile_limit:
            spooled = tempfile.TemporaryFile(dir=self._spool_dir)
            try:
                spooled.write(self.file.getvalue())  # type: ignore[attr-defined]
            except BaseException:
                spooled.close()
                raise
            self.file = spooled
            self._in_memory = False
        self.file.write(data)
        self.size += len(data)

    @property
    def raw(self) -> bytes:
        """The content as bytes.

        Raises ``MultipartError`` (413) for a file part that was spooled to disk; read
        ``file`` instead. Non-file fields are bounded by ``max_field_size`` and are
        always readable.
        """
        if self._in_memory:
            return self.file.getvalue()  # type: ignore[attr-defined]
        if self.is_file:
            raise _too_large(
                f"file part {self.name!r} is too large to load into memory; read .file"
            )
        pos = self.file.tell()
        try:
            self.file.seek(0)
            return self.file.read()
        finally:
            self.file.seek(pos)

    @property
    def value(self) -> str:
        """The content decoded with ``charset``; MultipartError (400) if it does not decode."""
        try:
            return self.raw.decode(self.charset)
        except (LookupError, UnicodeDecodeError) as exc:
            raise _malformed(f"field {self.name!r} is not valid {self.charset}: {exc}")

    def close(self) -> None:
        """Release the content (a spooled temporary file is deleted)."""
        self.file.close()

    def __repr__(self) -> str:
        kind = "file" if self.is_file else "field"
        return f"<Part {kind} name={self.name!r} filename={self.filename!r} size={self.size}>"


# --------------------------------------------------------------------------- parser


class MultipartParser:
    """Incremental ``multipart/form-data`` parser: ``feed()`` chunks, then ``close()``.

    Limits (None disables a limit):

    - ``max_fields``: parts in the body (1000).
    - ``max_field_size``: bytes in one non-file field (1 MiB).
    - ``max_file_size``: bytes in one file part (unlimited).
    - ``max_total_size``: bytes fed in total, headers and framing included (unlimited).
    - ``max_header_size``: bytes in one part's header block (8192).
    - ``max_headers``: header lines in one part (16).
    - ``memfile_limit``: a part larger than this many bytes is moved from memory to a
      temporary file in ``spool_dir`` (64 KiB).

    After an error the parser is unusable: parts are closed and every later call
    raises the same error.
    """

    def __init__(
        self,
        boundary: bytes | str,
        charset: str = "utf8",
        max_fields: int | None = DEFAULT_MAX_FIELDS,
        max_field_size: int | None = DEFAULT_MAX_FIELD_SIZE,
        max_file_size: int | None = None,
        max_total_size: int | None = None,
        memfile_limit: int = DEFAULT_MEMFILE_LIMIT,
        spool_dir: str | None = None,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
    ) -> None:
        if isinstance(boundary, str):
            try:
                boundary = boundary.encode("ascii")
            except UnicodeEncodeError:
                raise _malformed("multipart boundary must be ASCII")
        if not isinstance(boundary, (bytes, bytearray)):
            raise TypeError("boundary must be bytes or str")
        if not 1 <= len(boundary) <= _MAX_BOUNDARY or _BAD_HEADER_BYTES.search(boundary):
            raise _malformed(
                f"invalid multipart boundary (1 to {_MAX_BOUNDARY} bytes, no CR/LF/NUL)"
            )
        self.boundary = bytes(boundary)
        self.charset = charset
        self.max_fields = max_fields
        self.max_field_size = max_field_size
        self.max_file_size = max_file_size
        self.max_total_size = max_total_size
        self.memfile_limit = memfile_limit
        self.spool_dir = spool_dir
        self.max_header_size = max_header_size
        self.max_headers = max_headers

        self._delimiter = b"\r\n--" + self.boundary
        # The first boundary may start the body without a preceding CRLF; a virtual
        # CRLF in front lets one search handle both cases.
        self._buf = bytearray(_CRLF)
        self._state = _PREAMBLE
        self._scan = 0  # where the next header-end search starts (keeps it linear)
        self._padding = 0
        self._total = 0
        self._part: Part | None = None
        self._parts: list[Part] = []
        self._error: MultipartError | None = None
        self._closed = False

    @property
    def parts(self) -> list[Part]:
        """The parts completed so far."""
        return list(self._parts)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Parse the next chunk of the body (any size, even a single byte)."""
        if self._error is not None:
            raise self._error
        if self._closed:
            raise RuntimeError("feed() called after close()")
        if not data:
            return
        self._total += len(data)
        try:
            if self.max_total_size is not None and self._total > self.max_total_size:
                raise _too_large(
                    f"multipart body exceeds max_total_size ({self.max_total_size} bytes)"
                )
            if self._state == _DONE:
                return  # the epilogue is ignored
            self._buf += data
            self._process()
        except MultipartError as exc:
            self._fail(exc)
            raise

    def close(self) -> list[Part]:
        """Finish parsing and return the parts; MultipartError if the body was cut short."""
        if self._error is not None:
            raise self._error
        if not self._closed:
            if self._state != _DONE:
                self._fail(_malformed("unexpected end of multipart body: final boundary missing"))
                raise self._error  # type: ignore[misc]
            self._closed = True
            self._buf = bytearray()
        return list(self._parts)

    # -- internals

    def _fail(self, exc: MultipartError) -> None:
        self._error = exc
        self._buf = bytearray()
        if self._part is not None:
            self._part.close()
            self._part = None
        for part in self._parts:
            part.close()

    def _process(self) -> None:
        buf = self._buf
        delimiter = self._delimiter
        while True:
            state = self._state
            if state == _BODY or state == _PREAMBLE:
                idx = buf.find(delimiter)
                if idx < 0:
                    keep = self._safe_prefix()
                    if keep:
                        if state == _BODY:
                            self._write(buf[:keep])
                        del buf[:keep]
                    return
                if state == _BODY:
                    if idx:
                        self._write(buf[:idx])
                    self._finish_part()
                del buf[: idx + len(delimiter)]
                self._state = _DELIMITER
                self._padding = 0
            elif state == _DELIMITER:
                # After a delimiter: "--" ends the body, otherwise optional padding
                # and the CRLF that ends the boundary line (left for _HEADERS).
                while buf[:1] in (b" ", b"\t"):
                    del buf[:1]
                    self._padding += 1
                    if self._padding > _MAX_PADDING:
                        raise _malformed("too much whitespace after a multipart boundary")
                if len(buf) < 2:
                    if buf in (b"", b"-", b"\r"):
                        return
                    raise _malformed("multipart boundary followed by unexpected bytes")
                head = bytes(buf[:2])
                if head == b"--":
                    self._state = _DONE
                    buf.clear()
                    return
                if head != _CRLF:
                    raise _malformed("multipart boundary followed by unexpected bytes")
                self._state = _HEADERS
                self._scan = 0
            elif state == _HEADERS:
                idx = buf.find(_HEADER_END, self._scan)
                limit = self.max_header_size
                if idx < 0:
                    if len(buf) - 2 > limit + 2:
                        raise _too_large(f"part headers exceed max_header_size ({limit} bytes)")
                    self._scan = max(0, len(buf) - 3)
                    return
                if idx - 2 > limit:
                    raise _too_large(f"part headers exceed max_header_size ({limit} bytes)")
                block = bytes(buf[2:idx])
                del buf[: idx + 4]
                self._start_part(block)
                self._state = _BODY
            else:  # _DONE
                buf.clear()
                return

    def _safe_prefix(self) -> int:
        """Length of the buffer prefix that cannot belong to a delimiter.

        Called when the buffer holds no full delimiter, so only a partial one at the
        very end must be kept back (at most ``len(delimiter) - 1`` bytes).
        """
        buf, delimiter = self._buf, self._delimiter
        size = len(buf)
        pos = buf.find(b"\r", max(0, size - len(delimiter) + 1))
        while pos >= 0:
            if delimiter.startswith(buf[pos:]):
                return pos
            pos = buf.find(b"\r", pos + 1)
        return size

    def _parse_headers(self, block: bytes) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        if not block:
            return headers
        for line in block.split(_CRLF):
            if _BAD_HEADER_BYTES.search(line):
                raise _malformed("part header contains a bare CR, LF or NUL")
            if line[:1] in (b" ", b"\t"):  # obsolete line folding
                if not headers:
                    raise _malformed("part headers start with a continuation line")
                name, value = headers[-1]
                more = self._decode(line.strip(_WS))
                headers[-1] = (name, f"{value} {more}")
                continue
            raw_name, colon, raw_value = line.partition(b":")
            if not colon or not _TOKEN.fullmatch(raw_name):
                raise _malformed("malformed part header line")
            headers.append((raw_name.decode("ascii"), self._decode(raw_value.strip(_WS))))
            if len(headers) > self.max_headers:
                raise _too_large(f"too many part headers (max_headers is {self.max_headers})")
        return headers

    def _decode(self, raw: bytes) -> str:
        # Browsers send UTF-8 in filename parameters whatever the page charset; then
        # try the configured charset, and finally Latin-1, which never fails, so a
        # header is never rejected just for its encoding.
        for charset in ("utf-8", self.charset):
            try:
                return raw.decode(charset)
            except (LookupError, UnicodeDecodeError):
                pass
        return raw.decode("latin-1")

    def _start_part(self, block: bytes) -> None:
        if self.max_fields is not None and len(self._parts) >= self.max_fields:
            raise _too_large(f"too many multipart fields (max_fields is {self.max_fields})")
        headers = self._parse_headers(block)
        disposition = ctype = None
        for name, value in headers:
            lname = name.lower()
            if lname == "content-disposition" and disposition is None:
                disposition = value
            elif lname == "content-type" and ctype is None:
                ctype = value
        if disposition is None:
            raise _malformed("multipart part without a Content-Disposition header")
        _kind, options = parse_options_header(disposition)
        if "name" not in options:
            raise _malformed("multipart part without a name in Content-Disposition")
        filename = options.get("filename")
        charset = self.charset
        if ctype is not None:
            content_type, ct_options = parse_options_header(ctype)
            charset = ct_options.get("charset") or charset
        else:
            # RFC 7578 4.4 / 4.2 defaults.
            content_type = "text/plain" if filename is None else "application/octet-stream"
        self._part = Part(
            options["name"],
            filename,
            content_type,
            charset,
            headers,
            memfile_limit=self.memfile_limit,
            spool_dir=self.spool_dir,
        )

    def _write(self, data: bytes | bytearray) -> None:
        part = self._part
        assert part is not None
        size = part.size + len(data)
        if part.is_file:
            if self.max_file_size is not None and size > self.max_file_size:
                raise _too_large(
                    f"file {part.name!r} exceeds max_file_size ({self.max_file_size} bytes)"
                )
        elif self.max_field_size is not None and size > self.max_field_size:
            raise _too_large(
                f"field {part.name!r} exceeds max_field_size ({self.max_field_size} bytes)"
            )
        part._write(data)

    def _finish_part(self) -> None:
        part = self._part
        assert part is not None
        part.file.seek(0)
        self._parts.append(part)
        self._part = None
