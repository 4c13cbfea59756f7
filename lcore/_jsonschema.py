"""JSON Schema (2020-12, the dialect of OpenAPI 3.1) from Python type hints.

:class:`Schemas` turns a hint, or a ``validate_request`` schema (a dict of name ->
type, or a dataclass), into a schema. Named types (dataclasses, TypedDicts) are put
once in ``components`` and referenced with ``$ref``, so a recursive type is a plain
reference to itself and two operations returning ``Item`` share one definition.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import decimal
import enum
import inspect
import re
import types
import typing
import uuid
from typing import Any

__all__ = ["Schemas", "optional", "resolve_hints", "schema_fields", "required_field"]

_UNION_TYPES: tuple[Any, ...] = (typing.Union, types.UnionType)
_NONE = type(None)

_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    decimal.Decimal: {"type": "number"},
    bool: {"type": "boolean"},
    bytes: {"type": "string", "contentEncoding": "base64"},
    list: {"type": "array"},
    tuple: {"type": "array"},
    set: {"type": "array", "uniqueItems": True},
    frozenset: {"type": "array", "uniqueItems": True},
    dict: {"type": "object"},
    _NONE: {"type": "null"},
    uuid.UUID: {"type": "string", "format": "uuid"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.time: {"type": "string", "format": "time"},
}
_NAMED = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "bytes": bytes,
    "list": list,
    "dict": dict,
    "None": _NONE,
    "Any": typing.Any,
}
_ARRAYS = (
    list,
    tuple,
    set,
    frozenset,
    collections.abc.Sequence,
    collections.abc.Iterable,
    collections.abc.Set,
    collections.abc.MutableSequence,
)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def optional(tp: Any) -> tuple[bool, Any]:
    """``(True, X)`` for ``Optional[X]`` / ``X | None``; ``(False, tp)`` otherwise."""
    if typing.get_origin(tp) in _UNION_TYPES:
        args = typing.get_args(tp)
        if _NONE in args:
            rest = tuple(a for a in args if a is not _NONE)
            return True, (rest[0] if len(rest) == 1 else typing.Union[rest])  # noqa: UP007
    return False, tp


def resolve_hints(obj: Any) -> dict[str, Any]:
    """Resolved type hints (``from __future__ import annotations`` too); {} if they fail."""
    try:
        return typing.get_type_hints(obj)
    except Exception:
        return {}


def required_field(f: dataclasses.Field[Any], tp: Any) -> bool:
    """What ``validate_request`` requires of a dataclass field: no default, not ``Optional``."""
    missing = dataclasses.MISSING
    return f.default is missing and f.default_factory is missing and not optional(tp)[0]


def schema_fields(schema: Any) -> dict[str, tuple[Any, bool]]:
    """``name -> (type, required)`` of a ``@validate_request`` schema (dict or dataclass)."""
    if isinstance(schema, type) and dataclasses.is_dataclass(schema):
        hints = resolve_hints(schema)
        out = {}
        for f in dataclasses.fields(schema):
            tp = hints.get(f.name, f.type)
            out[f.name] = (tp, required_field(f, tp))
        return out
    return {k: (v, not optional(v)[0]) for k, v in (schema or {}).items()}


class Schemas:
    """Builds schemas and collects the named ones (``components``, name -> schema)."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}
        self._names: dict[Any, str] = {}

    def ref(self, name: str) -> dict[str, Any]:
        """A ``$ref`` to ``#/components/schemas/<name>``."""
        return {"$ref": f"#/components/schemas/{name}"}

    def add(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        """Put a fixed schema under ``name`` (kept if already there) and return its ref."""
        self.components.setdefault(name, schema)
        return self.ref(name)

    def _named(self, tp: Any, build: Any) -> dict[str, Any]:
        name = self._names.get(tp)
        if name is None:
            base = re.sub(r"[^A-Za-z0-9._-]", "_", getattr(tp, "__name__", "Schema"))
            name, n = base, 1
            while name in self.components:
                n += 1
                name = f"{base}{n}"
            self._names[tp] = name
            self.components[name] = {}  # placed first: a recursive reference finds it
            self.components[name] = build()
        return self.ref(name)

    def _object(self, fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "properties": {k: self.of(v) for k, v in fields.items()},
        }
        if required:
            out["required"] = required
        return out

    def of(self, tp: Any) -> dict[str, Any]:
        """The schema of a type hint or a ``validate_request`` schema ({} = anything)."""
        if tp is inspect.Parameter.empty or tp is typing.Any or tp is object:
            return {}
        if isinstance(tp, str):
            return self.of(_NAMED.get(tp, typing.Any))
        if tp is None:
            return {"type": "null"}
        if isinstance(tp, dict):  # a validate_request (nested) schema: name -> type
            return self._object(tp, [k for k, v in tp.items() if not optional(v)[0]])
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is typing.Annotated:
            return self.of(args[0])
        if origin in _UNION_TYPES:
            options = [self.of(a) for a in args]
            nulls = [o for o in options if o == {"type": "null"}]
            rest = [o for o in options if o != {"type": "null"}]
            if (
                nulls
                and len(rest) == 1
                and isinstance(rest[0].get("type"), str)
                and "items" not in rest[0]
            ):
                return {**rest[0], "type": [rest[0]["type"], "null"]}
            return {"anyOf": options}
        if origin is typing.Literal:
            return {"enum": list(args)}
        if origin in _ARRAYS:
            out: dict[str, Any] = {"type": "array"}
            if origin in (set, frozenset, collections.abc.Set):
                out["uniqueItems"] = True
            if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
                out["prefixItems"] = [self.of(a) for a in args]
                out["minItems"] = out["maxItems"] = len(args)
            elif args:
                out["items"] = self.of(args[0])
            return out
        if origin in _MAPPINGS:
            out = {"type": "object"}
            if len(args) == 2:
                value = self.of(args[1])
                if value:
                    out["additionalProperties"] = value
            return out
        try:
            simple = _SIMPLE.get(tp)
        except TypeError:  # an unhashable hint
            return {}
        if simple is not None:
            return dict(simple)
        if isinstance(tp, type):
            if issubclass(tp, enum.Enum):
                return {"enum": [m.value for m in tp]}
            if dataclasses.is_dataclass(tp):
                return self._named(tp, lambda: self._dataclass(tp))
            if typing.is_typeddict(tp):
                return self._named(tp, lambda: self._typeddict(tp))
            for base, schema in _SIMPLE.items():  # subclasses (IntEnum handled above)
                if base is not _NONE and issubclass(tp, base):
                    return dict(schema)
        return {}

    def _dataclass(self, tp: Any) -> dict[str, Any]:
        hints = resolve_hints(tp)
        fields = {f.name: hints.get(f.name, f.type) for f in dataclasses.fields(tp)}
        required = [f.name for f in dataclasses.fields(tp) if required_field(f, fields[f.name])]
        out = {"title": tp.__name__, **self._object(fields, required)}
        doc = inspect.getdoc(tp)
        if doc and not doc.startswith(tp.__name__ + "("):  # not the generated signature
            out["description"] = doc
        return out

    def _typeddict(self, tp: Any) -> dict[str, Any]:
        return {
            "title": tp.__name__,
            **self._object(resolve_hints(tp), sorted(tp.__required_keys__)),
        }

    def example(self, schema: dict[str, Any], depth: int = 0) -> Any:
        """A plausible value of ``schema`` (what the /docs form starts with)."""
        if depth > 6:
            return None
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self.example(self.components.get(ref.rsplit("/", 1)[-1], {}), depth + 1)
        if "default" in schema:
            return schema["default"]
        if "enum" in schema and schema["enum"]:
            return schema["enum"][0]
        if "anyOf" in schema:
            return self.example(schema["anyOf"][0], depth + 1) if schema["anyOf"] else None
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            props = schema.get("properties", {})
            return {k: self.example(v, depth + 1) for k, v in props.items()}
        if kind == "array":
            items = schema.get("items")
            return [self.example(items, depth + 1)] if isinstance(items, dict) and items else []
        return {"string": "string", "integer": 0, "number": 0.0, "boolean": False}.get(str(kind))
