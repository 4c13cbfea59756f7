"""Serve files from a directory safely: ``static_file``.

Containment is checked on the real path (symlinks resolved) and again on the opened
file where the platform can tell (``/proc/self/fd``), so neither ``..`` nor a symlink
can leave ``root``.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import stat
import unicodedata
from collections.abc import Iterator, Mapping
from typing import IO, Any
from urllib.parse import quote

from ._utils import http_date, parse_date, parse_range_header
from .context import request
from .response import HTTPError, HTTPResponse

__all__ = ["static_file"]

#: Size of the reads that feed a range (206) response.
RANGE_CHUNK_SIZE = 64 * 1024
# Types that get "; charset=..." besides text/*.
_CHARSET_TYPES = frozenset({"application/javascript"})
# Opening a FIFO or device must not block the worker.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class _FileRange:
    """Iterate over ``length`` bytes of an open file from ``offset``; closes the file.

    An iterator with ``close()`` rather than a generator, so the file is closed even
    when iteration never starts (WSGI servers call ``close()`` on the body).
    """

    def __init__(self, fp: IO[bytes], offset: int, length: int) -> None:
        self.fp, self.offset, self.remaining = fp, offset, length
        self._started = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.remaining <= 0 or self.fp.closed:
            self.close()
            raise StopIteration
        if not self._started:
            self.fp.seek(self.offset)
            self._started = True
        chunk = self.fp.read(min(self.remaining, RANGE_CHUNK_SIZE))
        if not chunk:  # the file shrank underneath us
            self.close()
            raise StopIteration
        self.remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        """Close the file."""
        self.fp.close()


class _Headers(dict):
    """A dict of headers in which names differing only in case are one name."""

    def __setitem__(self, name: str, value: Any) -> None:
        self.pop(name, None)
        super().__setitem__(name, value)

    def pop(self, name: str, default: Any = None) -> Any:
        lname, found = name.lower(), default
        for key in [k for k in self if k.lower() == lname]:
            found = super().pop(key)
        return found


def _inside(path: str, root: str) -> bool:
    """True if ``path`` is ``root`` or below it (both already real, absolute paths)."""
    return path == root or path.startswith(os.path.join(root, ""))


def _opened_path(fp: IO[bytes]) -> str | None:
    """The real path of an open file as the kernel sees it, if the platform can tell."""
    link = f"/proc/self/fd/{fp.fileno()}"
    try:
        return os.readlink(link) if os.path.islink(link) else None
    except OSError:
        return None


def _content_disposition(name: str) -> str:
    """Build an ``attachment`` header value; non-ASCII names also get ``filename*``."""
    name = os.path.basename(name.replace("\\", "/"))
    name = "".join(c for c in name if c.isprintable() and c not in '"\\;')
    name = name.strip() or "download"
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = fallback.strip() or "download"
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _etag_matches(header: str, etag: str | None) -> bool:
    """Weak comparison of ``If-None-Match`` against ``etag`` (quoted); ``*`` matches."""
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if etag is not None and candidate:
            if candidate[:2] in ("W/", "w/"):
                candidate = candidate[2:]
            if candidate == etag.removeprefix("W/"):
                return True
    return False


def _if_range_ok(value: str, etag: str | None, mtime: int) -> bool:
    """True if an ``If-Range`` precondition holds (strong ETag or exact date)."""
    value = value.strip()
    if value.startswith('"') or value[:2] in ("W/", "w/"):
        return etag is not None and not etag.startswith("W/") and value == etag
    date = parse_date(value)
    return date is not None and int(date) == mtime


def _quote_etag(etag: str) -> str:
    if etag.startswith('"') or etag.startswith("W/"):
        return etag
    return f'"{etag}"'


def static_file(
    filename: str | os.PathLike[str],
    root: str | os.PathLike[str],
    mimetype: str | bool = True,
    download: str | bool = False,
    charset: str | None = "UTF-8",
    etag: str | bool | None = None,
    headers: Mapping[str, Any] | None = None,
) -> HTTPResponse:
    """Return a response serving ``filename`` from the ``root`` directory.

    Answers 403 when the file's real path is outside ``root`` (``..``, absolute paths,
    symlinks leading out) or it cannot be read, and 404 when it is missing or not a
    regular file. Those errors are returned as ``HTTPError``, not raised.

    - ``mimetype``: True guesses from the name (``application/octet-stream`` if
      unknown); a string is used as is; False sends no Content-Type. ``charset`` is
      appended to ``text/*`` and ``application/javascript`` types.
    - ``download``: True sends ``Content-Disposition: attachment`` with the file's
      name; a string gives the name to use (and is used to guess the type).
    - ``etag``: None computes a SHA-256 over path, mtime and size; a string is used as
      the tag; False sends none.
    - ``headers``: extra headers (for example ``Cache-Control``); the ones computed
      here (Content-Type, Content-Length, ETag...) take precedence.

    Conditional requests: ``If-None-Match`` (weak comparison, ``*``, lists) gives 304,
    and only when it is absent ``If-Modified-Since`` is checked. ``Range`` gives 206
    with the slice read in 64 KiB chunks, or 416 when unsatisfiable; when several
    ranges are asked for, only the first is served (a plain 206, not
    ``multipart/byteranges``). ``If-Range`` is honoured. HEAD gets the headers only.
    A GET body is the open file object, so servers can use ``sendfile``.
    """
    method = (request.method or "GET").upper()
    real_root = os.path.realpath(os.path.abspath(os.fspath(root)))
    filename = os.fspath(filename)
    if "\x00" in filename:
        return HTTPError(400, "Invalid file name.")
    relative = filename.lstrip("/\\")
    path = os.path.realpath(os.path.join(real_root, relative))
    if not _inside(path, real_root):
        return HTTPError(403, "Access denied.")

    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return HTTPError(404, "File does not exist.")
    except PermissionError:
        return HTTPError(403, "You do not have permission to access this file.")
    except OSError:
        # ENOTDIR, EISDIR on some platforms, ELOOP, ENAMETOOLONG...
        return HTTPError(404, "File does not exist.")
    try:
        stats = os.fstat(fd)
        if not stat.S_ISREG(stats.st_mode):
            os.close(fd)
            return HTTPError(404, "File does not exist.")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        body: IO[bytes] = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    try:
        # A path component may have been swapped for a symlink after realpath().
        opened = _opened_path(body)
        if opened is not None and not _inside(opened, real_root):
            body.close()
            return HTTPError(403, "Access denied.")
        return _respond(body, path, stats, method, mimetype, download, charset, etag, headers)
    except BaseException:
        body.close()
        raise


def _respond(
    body: IO[bytes],
    path: str,
    stats: os.stat_result,
    method: str,
    mimetype: str | bool,
    download: str | bool,
    charset: str | None,
    etag: str | bool | None,
    extra: Mapping[str, Any] | None,
) -> HTTPResponse:
    """Build the response for an open, validated file."""
    headers = _Headers()
    for name, value in (extra or {}).items():
        headers[name] = value
    size = stats.st_size
    mtime = int(stats.st_mtime)

    if mimetype is True:
        guess_from = download if isinstance(download, str) and download else path
        guessed, encoding = mimetypes.guess_type(guess_from)
        if encoding == "gzip":
            guessed = "application/gzip"
        elif encoding:
            guessed = f"application/x-{encoding}"
        mimetype = guessed or "application/octet-stream"
    if mimetype:
        ctype = str(mimetype)
        main = ctype.split(";", 1)[0].strip().lower()
        if (
            charset
            and "charset=" not in ctype.lower()
            and (main.startswith("text/") or main in _CHARSET_TYPES)
        ):
            ctype += f"; charset={charset}"
        headers["Content-Type"] = ctype

    if download:
        name = download if isinstance(download, str) else os.path.basename(path)
        headers["Content-Disposition"] = _content_disposition(name)

    headers["Content-Length"] = str(size)
    headers["Last-Modified"] = http_date(stats.st_mtime)
    headers["Accept-Ranges"] = "bytes"

    tag: str | None = None
    if etag is None or etag is True:
        digest = hashlib.sha256(f"{path}:{stats.st_mtime}:{size}".encode("utf8", "surrogateescape"))
        tag = f'"{digest.hexdigest()}"'
    elif etag:
        tag = _quote_etag(str(etag))
    if tag is not None:
        headers["ETag"] = tag

    if method in ("GET", "HEAD"):
        inm = request.get_header("If-None-Match")
        if inm is not None:
            not_modified = _etag_matches(inm, tag)
        else:
            ims = request.get_header("If-Modified-Since")
            since = parse_date(ims.split(";")[0].strip()) if ims else None
            not_modified = since is not None and since >= mtime
        if not_modified:
            body.close()
            for name in ("Content-Length", "Content-Type", "Content-Disposition"):
                headers.pop(name, None)
            return HTTPResponse("", status=304, headers=headers)

    if method == "HEAD":
        body.close()
        return HTTPResponse("", status=200, headers=headers)

    range_header = request.get_header("Range") if method == "GET" else None
    if range_header and range_header.strip().lower().startswith("bytes="):
        if_range = request.get_header("If-Range")
        if not if_range or _if_range_ok(if_range, tag, mtime):
            spec = "bytes=" + range_header.strip()[6:]
            first = next(iter(parse_range_header(spec, size)), None)
            if first is None:
                body.close()
                error = HTTPError(416, "Requested Range Not Satisfiable")
                error.set_header("Content-Range", f"bytes */{size}")
                return error
            start, end = first
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
            headers["Content-Length"] = str(end - start)
            return HTTPResponse(_FileRange(body, start, end - start), status=206, headers=headers)

    return HTTPResponse(body, status=200, headers=headers)
