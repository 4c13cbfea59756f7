"""Application configuration: ``ConfigDict`` and the ``.env`` loader.

``ConfigDict`` is a flat ``dict`` with dotted keys (``db.url``) that can be filled from
dicts, environment variables, ``.env`` files, JSON, INI files and Python modules,
validated against a dataclass, annotated with per-key metadata, layered with overlays
and observed by change listeners (the app's ``config`` hook).
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import re
import types
import typing
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ._utils import json_loads, load
from .exceptions import ConfigError

__all__ = ["ConfigDict", "load_dotenv"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXPORT = re.compile(r"^export\s+")
_INLINE_COMMENT = re.compile(r"\s+#")
_DQ_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_MISSING = object()


# --------------------------------------------------------------------------- .env files


def _unquote(value: str) -> str:
    """Return the value of one ``.env`` assignment (right of ``=``), quotes and comments removed."""
    if value[:1] in ("'", '"'):
        quote = value[0]
        out: list[str] = []
        i = 1
        while i < len(value):
            ch = value[i]
            if ch == "\\" and quote == '"' and i + 1 < len(value):
                nxt = value[i + 1]
                out.append(_DQ_ESCAPES.get(nxt, "\\" + nxt))
                i += 2
                continue
            if ch == quote:
                return "".join(out)  # anything after the closing quote is a comment
            out.append(ch)
            i += 1
        return value  # no closing quote: keep the text as written
    match = _INLINE_COMMENT.search(value)
    if match:
        value = value[: match.start()]
    return value.strip()


def _parse_dotenv(text: str) -> dict[str, str]:
    """Parse ``.env`` text into a dict; lines that are not ``NAME=value`` are skipped."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = _EXPORT.sub("", line)
        key, sep, value = line.partition("=")
        key = key.strip()
        # Invalid names are skipped silently: a .env file must not be able to inject
        # odd variable names (or shell syntax) into the process environment.
        if not sep or not _ENV_NAME.match(key):
            continue
        result[key] = _unquote(value.strip())
    return result


def _read_dotenv(path: str | os.PathLike[str] | None) -> dict[str, str] | None:
    """Read and parse a ``.env`` file; None when the file does not exist."""
    path = os.path.join(os.getcwd(), ".env") if path is None else os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig") as fp:
            text = fp.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    return _parse_dotenv(text)


def _apply_env(values: Mapping[str, str], override: bool) -> None:
    for key, value in values.items():
        if override or key not in os.environ:
            os.environ[key] = value


def load_dotenv(path: str | os.PathLike[str] | None = None, override: bool = False) -> bool:
    """Load ``KEY=VALUE`` lines from a ``.env`` file into ``os.environ``.

    ``path`` defaults to ``.env`` in the current directory. Blank lines, ``#`` comments
    and an ``export`` prefix are accepted; single or double quotes around a value are
    removed (``\\n``-style escapes work inside double quotes) and a `` #`` comment
    after an unquoted value is dropped. Names that are not valid identifiers are
    skipped. Variables already set in the environment are kept unless ``override`` is
    true. Returns True when the file was read, False when it does not exist.
    """
    values = _read_dotenv(path)
    if values is None:
        return False
    _apply_env(values, override)
    return True


# --------------------------------------------------------------------------- validation


def _coerce(value: Any, hint: Any) -> Any:
    """Return ``value`` converted to the type ``hint``, or raise ValueError."""
    if hint is Any or hint is _MISSING or isinstance(hint, (str, typing.TypeVar)):
        return value
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        members = typing.get_args(hint)
        if value is None and type(None) in members:
            return None
        for member in members:
            if member is type(None):
                continue
            try:
                return _coerce(value, member)
            except ValueError:
                continue
        raise ValueError(f"expected {_type_name(hint)}, got {value!r}")
    if origin is typing.Literal:
        if value in typing.get_args(hint):
            return value
        raise ValueError(f"expected one of {typing.get_args(hint)!r}, got {value!r}")
    if origin is not None:
        hint = origin
    if not isinstance(hint, type):
        return value  # a typing construct we do not check (Callable[..], NewType...)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
        raise ValueError(f"expected bool, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ValueError(f"expected int, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ValueError(f"expected float, got {value!r}")
    if isinstance(value, hint):
        return value
    raise ValueError(f"expected {_type_name(hint)}, got {value!r}")


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _has_default(field: dataclasses.Field[Any]) -> bool:
    missing = dataclasses.MISSING
    return field.default is not missing or field.default_factory is not missing


# --------------------------------------------------------------------------- ConfigDict


class ConfigDict(dict):
    """A ``dict`` of configuration values with dotted keys, loaders, metadata and overlays.

    Keys must be strings; ``config['db.url']`` is the usual namespaced form and nested
    dicts given to ``load_dict`` or ``update`` are flattened into it. Every loader returns
    the ConfigDict itself, so calls can be chained.

    Per-key metadata (``meta_set``) can hold a ``filter`` callable (its result is stored)
    and a ``validate`` callable, run on every assignment: raising ``ValueError`` or
    ``TypeError`` or returning ``False`` rejects the value with ``ConfigError``; returning
    another non-None value stores that value instead (``meta_set('port', 'validate',
    int)`` turns ``'8080'`` into ``8080``).
    """

    __slots__ = ("_meta", "_listeners", "_overlays", "_source", "_virtual_keys", "__weakref__")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._meta: dict[str, dict[str, Any]] = {}
        self._listeners: list[Callable[[str, Any], Any]] = []
        self._overlays: list[weakref.ref[ConfigDict]] = []
        self._source: ConfigDict | None = None
        self._virtual_keys: set[str] = set()
        if args or kwargs:
            self.update(*args, **kwargs)

    # ----------------------------------------------------------------- loaders

    def load_dict(self, source: Mapping[str, Any], namespace: str = "") -> ConfigDict:
        """Store the items of ``source``; nested dicts become dotted keys.

        ``load_dict({'db': {'url': 'x'}})`` sets ``db.url``. ``namespace`` is put in front
        of every key (``namespace='app'`` sets ``app.db.url``).
        """
        for key, value in source.items():
            if not isinstance(key, str):
                raise TypeError(f"config keys must be strings, not {type(key).__name__}")
            full = f"{namespace}.{key}" if namespace else key
            if isinstance(value, dict):
                self.load_dict(value, full)
            else:
                self[full] = value
        return self

    def load_env(self, prefix: str, strip_prefix: bool = True) -> ConfigDict:
        """Store the environment variables whose names start with ``prefix``.

        Names are matched case-sensitively, lower-cased, and ``__`` becomes ``.``:
        with ``prefix='MYAPP_'``, ``MYAPP_DB_URL`` sets ``db_url`` and ``MYAPP_DB__URL``
        sets ``db.url`` (``myapp_db_url`` when ``strip_prefix`` is false). Values stay
        strings; ``validate_config`` can convert them.
        """
        for name, value in os.environ.items():
            if not name.startswith(prefix):
                continue
            key = name[len(prefix) :] if strip_prefix else name
            if key:
                self[key.lower().replace("__", ".")] = value
        return self

    def load_dotenv(
        self,
        path: str | os.PathLike[str] = ".env",
        prefix: str = "",
        strip_prefix: bool = True,
        override: bool = False,
    ) -> ConfigDict:
        """Load a ``.env`` file into ``os.environ`` and into this config.

        The file is read like the module function ``load_dotenv`` (variables already in
        the environment win unless ``override`` is true). Each variable of the file
        whose name starts with ``prefix`` is then stored with the value the environment
        now holds, its key formed as in ``load_env``. A missing file is not an error.
        """
        values = _read_dotenv(path)
        if values is None:
            return self
        _apply_env(values, override)
        for name in values:
            if not name.startswith(prefix):
                continue
            key = name[len(prefix) :] if strip_prefix else name
            if key:
                self[key.lower().replace("__", ".")] = os.environ.get(name, values[name])
        return self

    def load_json(self, path: str | os.PathLike[str]) -> ConfigDict:
        """Load a JSON file whose top level is an object; nested objects become dotted keys."""
        with open(path, encoding="utf-8") as fp:
            text = fp.read()
        try:
            data = json_loads(text)
        except ValueError as exc:
            raise ConfigError(f"{os.fspath(path)}: invalid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(
                f"{os.fspath(path)}: the top level must be a JSON object, not {type(data).__name__}"
            )
        return self.load_dict(data)

    def load_config(self, path: str | os.PathLike[str], **options: Any) -> ConfigDict:
        """Load an INI file with ``configparser``; values stay strings.

        Keys of the ``[lcore]`` and ``[DEFAULT]`` sections become root keys; a key in any
        other section becomes ``section.key`` (lower-cased). Defaults are interpolated
        but not copied into every section. ``options`` go to ``ConfigParser``
        (``interpolation=None`` turns ``%(name)s`` expansion off).
        """
        with open(path, encoding="utf-8") as fp:
            text = fp.read()
        name = os.fspath(path)
        parser = configparser.ConfigParser(**options)
        # A second, raw parse that treats DEFAULT like any section tells which keys a
        # section really sets, so defaults are not repeated under every section.
        explicit = configparser.RawConfigParser(default_section="\0no-default\0", strict=False)
        try:
            parser.read_string(text, source=name)
            explicit.read_string(text, source=name)
            for key, value in parser.defaults().items():
                self[key.lower()] = value
            for section in parser.sections():
                root = section.lower() == "lcore"
                own = explicit.options(section) if explicit.has_section(section) else []
                for key in own:
                    value = parser.get(section, key)
                    self[key.lower() if root else f"{section}.{key}".lower()] = value
        except configparser.Error as exc:
            raise ConfigError(f"{name}: {exc}") from exc
        return self

    def load_module(self, name: str, squash: bool = True) -> ConfigDict:
        """Load the public UPPER-case attributes of a module (``'pkg.conf'`` or ``'pkg:obj'``).

        Keys are lower-cased (``DEBUG`` sets ``debug``). With ``squash`` true, dict values
        are flattened into dotted keys (``DB = {'url': ...}`` sets ``db.url``); otherwise
        they are stored as dicts.
        """
        obj = load(name)
        values = {
            key.lower(): getattr(obj, key)
            for key in dir(obj)
            if key.isupper() and not key.startswith("_")
        }
        if squash:
            return self.load_dict(values)
        for key, value in values.items():
            self[key] = value
        return self

    def validate_config(self, dataclass_type: Any) -> ConfigDict:
        """Check the config against a dataclass schema; return the ConfigDict itself.

        As in Lcore 0.0.4, any problem raises ``ValueError`` (a :class:`ConfigError`,
        with the list as ``.errors``): ``"Config validation errors:"`` and then one line
        per missing or unconvertible key. The checks are those of :meth:`check_config`,
        which returns ``(ok, errors)`` instead of raising.
        """
        ok, errors = self.check_config(dataclass_type)
        if not ok:
            exc = ConfigError("Config validation errors:\n" + "\n".join(errors))
            exc.errors = errors  # type: ignore[attr-defined]
            raise exc
        return self

    def check_config(self, dataclass_type: Any) -> tuple[bool, list[str]]:
        """Check the config against a dataclass schema; return ``(ok, errors)``.

        Each field is looked up by its name, or by a dotted key that reads the same with
        dots as underscores (field ``db_url`` matches ``db.url``, as in Lcore 0.0.4).
        Strings are converted to ``int``, ``float`` and ``bool`` fields (``true/1/yes/on``,
        ``false/0/no/off``) and the converted value is written back. A missing field is
        fine when it has a default and an error otherwise. A non-dataclass raises
        ``TypeError``.
        """
        if not dataclasses.is_dataclass(dataclass_type):
            raise TypeError(
                f"config validation needs a dataclass, not {type(dataclass_type).__name__}"
            )
        schema = dataclass_type if isinstance(dataclass_type, type) else type(dataclass_type)
        try:
            hints = typing.get_type_hints(schema)
        except Exception:  # unresolvable forward references: fall back to raw annotations
            hints = {}
        by_flat_name: dict[str, str] = {}
        for key in self:
            by_flat_name.setdefault(key.replace(".", "_"), key)
        errors: list[str] = []
        for field in dataclasses.fields(schema):
            key = field.name if field.name in self else by_flat_name.get(field.name)
            if key is None:
                if not _has_default(field):
                    dotted = field.name.replace("_", ".")
                    also = f" (or {dotted})" if dotted != field.name else ""
                    errors.append(f"Missing required config key: {field.name}{also}")
                continue
            value = self[key]
            try:
                converted = _coerce(value, hints.get(field.name, field.type))
            except ValueError as exc:
                errors.append(f"Config key {key}: {exc}")
                continue
            if converted is not value:
                try:
                    self[key] = converted
                except ConfigError as exc:
                    errors.append(f"Config key {key}: {exc}")
        return not errors, errors

    # ----------------------------------------------------------------- metadata

    def meta_get(self, key: str, metafield: str, default: Any = None) -> Any:
        """Return a metadata field of ``key`` (an overlay falls back to its parent's)."""
        fields = self._meta.get(key)
        if fields is not None and metafield in fields:
            return fields[metafield]
        if self._source is not None:
            return self._source.meta_get(key, metafield, default)
        return default

    def meta_set(self, key: str, metafield: str, value: Any) -> None:
        """Set a metadata field of ``key``; a new ``filter``/``validate`` checks the current value."""
        self._meta.setdefault(key, {})[metafield] = value
        if metafield in ("filter", "validate") and key in self and key not in self._virtual_keys:
            self[key] = self[key]

    def meta_list(self, key: str) -> list[str]:
        """Return the names of the metadata fields set for ``key``."""
        names = list(self._source.meta_list(key)) if self._source is not None else []
        names += [name for name in self._meta.get(key, {}) if name not in names]
        return names

    # ----------------------------------------------------------------- dict API

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"config keys must be strings, not {type(key).__name__}")
        value = self._checked(key, value)
        self._virtual_keys.discard(key)
        dict.__setitem__(self, key, value)
        self._changed(key, value)
        for overlay in self._live_overlays():
            overlay._set_virtual(key, value)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        if key in self._virtual_keys:
            raise KeyError(f"{key!r} is inherited from the parent config and cannot be deleted")
        if self._source is not None and key in self._source:
            # An overlay that drops its own value shows the parent's again.
            self._set_virtual(key, self._source[key], force=True)
            return
        dict.__delitem__(self, key)
        self._changed(key, None)
        for overlay in self._live_overlays():
            overlay._delete_virtual(key)

    # ``get`` is dict.get itself (PERF: read on every request; no Python-level wrapper).

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Set ``key`` to ``default`` if it is not set yet; return its value."""
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Store the given items like ``dict.update``; nested dicts become dotted keys.

        A string as the first argument is a namespace for all keys:
        ``update('db', url='x')`` sets ``db.url``.
        """
        namespace = ""
        if args and isinstance(args[0], str):
            namespace, args = args[0].rstrip("."), args[1:]
        self.load_dict(dict(*args, **kwargs), namespace)

    def __ior__(self, other: Any) -> ConfigDict:  # type: ignore[misc]
        self.update(other)
        return self

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value (``default`` if given and the key is unset)."""
        if key not in self:
            if default is _MISSING:
                raise KeyError(key)
            return default
        value = self[key]
        del self[key]
        return value

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last key that is not inherited from a parent config."""
        for key in reversed(list(self)):
            if key not in self._virtual_keys:
                return key, self.pop(key)
        raise KeyError("popitem(): no keys that can be removed")

    def clear(self) -> None:
        """Remove every key set here (an overlay keeps showing its parent's keys)."""
        for key in list(self):
            if key not in self._virtual_keys:
                del self[key]

    def copy(self) -> ConfigDict:
        """Return an independent ConfigDict with the same values and metadata."""
        new = ConfigDict()
        dict.update(new, self)
        new._meta = {key: dict(fields) for key, fields in self._meta.items()}
        return new

    def __reduce__(self) -> Any:
        # copy, deepcopy and pickle give a plain ConfigDict with the values and metadata;
        # listeners and overlay links belong to the original and are not carried over.
        return type(self), (), (None, {"_meta": self._meta}), None, iter(dict.items(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"

    # ----------------------------------------------------------------- listeners and overlays

    def _add_change_listener(self, func: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
        """Call ``func(key, value)`` after every change (``value`` is None for a deletion)."""
        self._listeners.append(func)
        return func

    def _make_overlay(self) -> ConfigDict:
        """Return a child config that shows this config's values until it sets its own.

        Later changes here reach the overlay for every key it has not set itself.
        """
        overlay = ConfigDict()
        overlay._source = self
        self._overlays.append(weakref.ref(overlay))
        for key, value in self.items():
            overlay._set_virtual(key, value)
        return overlay

    def _live_overlays(self) -> Iterator[ConfigDict]:
        alive = []
        for ref in self._overlays:
            overlay = ref()
            if overlay is not None:
                alive.append(ref)
                yield overlay
        self._overlays[:] = alive

    def _set_virtual(self, key: str, value: Any, force: bool = False) -> None:
        if not force and key in self and key not in self._virtual_keys:
            return  # this overlay has its own value for the key
        self._virtual_keys.add(key)
        dict.__setitem__(self, key, value)
        self._changed(key, value)
        for overlay in self._live_overlays():
            overlay._set_virtual(key, value)

    def _delete_virtual(self, key: str) -> None:
        if key not in self._virtual_keys:
            return
        self._virtual_keys.discard(key)
        dict.__delitem__(self, key)
        self._changed(key, None)
        for overlay in self._live_overlays():
            overlay._delete_virtual(key)

    def _changed(self, key: str, value: Any) -> None:
        for listener in self._listeners:
            listener(key, value)

    def _checked(self, key: str, value: Any) -> Any:
        filter_func = self.meta_get(key, "filter")
        if filter_func is not None:
            value = filter_func(value)
        check = self.meta_get(key, "validate")
        if check is None:
            return value
        try:
            result = check(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid value for config key {key!r}: {value!r} ({exc})") from exc
        if result is False:
            raise ConfigError(f"invalid value for config key {key!r}: {value!r}")
        return value if result is None or result is True else result
