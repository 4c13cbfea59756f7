"""``FileUpload``: an uploaded file with its form name, client metadata and a safe file name.

``request.files`` holds one per file part of a ``multipart/form-data`` body (see
``lcore.multipart`` for the parser). ``filename`` is the client's name made safe to use
on disk; ``raw_filename`` is what the client sent.
"""

from __future__ import annotations

import errno
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import IO, TYPE_CHECKING, Any

from .response import HTTPError

if TYPE_CHECKING:
    from .multipart import Part

__all__ = ["FileUpload"]


class _Headers(MutableMapping[str, str]):
    """A minimal case-insensitive header mapping (first value of a repeated name wins)."""

    def __init__(self, source: Mapping[str, str] | Iterable[tuple[str, str]] | None = None):
        self._data: dict[str, tuple[str, str]] = {}
        if source is None:
            return
        items = source.items() if isinstance(source, Mapping) else source
        for key, value in items:
            self._data.setdefault(key.lower(), (key, value))

    def __getitem__(self, key: str) -> str:
        return self._data[key.lower()][1]

    def __setitem__(self, key: str, value: str) -> None:
        self._data[key.lower()] = (key, value)

    def __delitem__(self, key: str) -> None:
        del self._data[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._data.values())!r})"


_FILENAME_JUNK = re.compile(r"[^A-Za-z0-9_.\s-]")
_FILENAME_SPACES = re.compile(r"[-\s]+")
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)


def _safe_filename(raw: str | None) -> str:
    """Reduce a client-supplied file name to a safe ASCII basename."""
    if not raw:
        return "empty"
    name = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() or c in " \t")
    name = _FILENAME_JUNK.sub("", name)
    name = _FILENAME_SPACES.sub("-", name.strip()).strip(".-")
    if len(name) > 255:
        stem, ext = os.path.splitext(name)
        name = stem[: 255 - len(ext)] + ext if 0 < len(ext) <= 16 else name[:255]
    if name.split(".", 1)[0].upper() in _WINDOWS_RESERVED:
        name = "_" + name[:254]
    return name or "empty"


class FileUpload:
    """An uploaded file: the content (``file``) plus the form name and client metadata."""

    def __init__(
        self,
        fileobj: IO[bytes],
        name: str,
        filename: str | None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        self.file = fileobj
        self.name = name
        self.raw_filename = filename
        self.headers = _Headers(headers)

    @classmethod
    def from_part(cls, part: Part) -> FileUpload:
        """Wrap a parsed :class:`Part`."""
        return cls(part.file, part.name, part.filename, part.headers)

    @property
    def content_type(self) -> str | None:
        """The part's ``Content-Type`` header as sent by the client (not verified)."""
        return self.headers.get("Content-Type")

    @property
    def content_length(self) -> int:
        """The ``Content-Length`` part header, else the size of ``file``, else -1."""
        value = self.headers.get("Content-Length")
        if value is not None:
            try:
                return int(value)
            except ValueError:
                pass
        try:
            pos = self.file.tell()
            try:
                return self.file.seek(0, os.SEEK_END)
            finally:
                self.file.seek(pos)
        except (AttributeError, OSError, ValueError):
            return -1

    def get_header(self, name: str, default: str | None = None) -> str | None:
        """Return a part header (case-insensitive), or ``default``."""
        return self.headers.get(name, default)

    @property
    def filename(self) -> str:
        """The client's file name made safe to use as a file name on any system.

        Only the last path segment is kept, non-ASCII letters are reduced to ASCII,
        anything but letters, digits, ``-_.`` is dropped, runs of spaces and dashes
        become one ``-``, leading/trailing dots and dashes are stripped (no hidden
        files, no ``..``), Windows device names are prefixed with ``_``, and the result
        is at most 255 characters. ``'empty'`` when nothing is left.
        """
        return _safe_filename(self.raw_filename)

    def _copy_file(self, target: IO[bytes], chunk_size: int) -> None:
        source = self.file
        offset = source.tell()
        try:
            source.seek(0)
            while True:
                chunk = source.read(chunk_size)
                if not chunk:
                    break
                target.write(chunk)
        finally:
            source.seek(offset)

    def save(
        self,
        destination: str | os.PathLike[str] | IO[bytes],
        overwrite: bool = False,
        chunk_size: int = 2**16,
    ) -> None:
        """Write the upload to a directory (as ``filename``), a path or a file object.

        An existing file is not replaced unless ``overwrite`` is true
        (``FileExistsError``, an ``IOError``). The whole content is copied whatever the
        current position of ``file``, and that position is restored afterwards.
        """
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        if isinstance(destination, (str, os.PathLike)):
            path = os.fspath(destination)
            if os.path.isdir(path):
                path = os.path.join(path, self.filename)
            try:
                target = open(path, "wb" if overwrite else "xb")
            except FileExistsError:
                raise FileExistsError(errno.EEXIST, "File exists (pass overwrite=True)", path)
            with target:
                self._copy_file(target, chunk_size)
        else:
            self._copy_file(destination, chunk_size)

    def validate_content_type(self, allowed_types: Iterable[str]) -> None:
        """Raise ``HTTPError(415)`` unless the declared Content-Type is in ``allowed_types``.

        This checks the client's claim only; sniff the content for real assurance.
        """
        ctype = (self.content_type or "").split(";")[0].strip().lower()
        allowed = {t.lower() for t in allowed_types}
        if ctype not in allowed:
            self._reject(
                f"Unsupported media type: {ctype!r}. Allowed: {', '.join(sorted(allowed))}"
            )

    def validate_extension(self, allowed_extensions: Iterable[str]) -> None:
        """Raise ``HTTPError(415)`` unless ``filename`` has one of ``allowed_extensions``."""
        ext = os.path.splitext(self.filename)[1].lstrip(".").lower()
        allowed = {e.lower().lstrip(".") for e in allowed_extensions}
        if ext not in allowed:
            shown = ", ".join("." + e for e in sorted(allowed))
            self._reject(f"Unsupported file extension: '.{ext}'. Allowed: {shown}")

    @staticmethod
    def _reject(message: str) -> Any:
        raise HTTPError(415, message)

    def close(self) -> None:
        """Close the underlying file."""
        self.file.close()

    def __repr__(self) -> str:
        return f"<FileUpload name={self.name!r} filename={self.raw_filename!r}>"
