"""Request validation: ``@validate_request(body={...}, query={...})``."""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any

from .. import _bridge
from .._jsonschema import _UNION_TYPES
from .._jsonschema import optional as _optional
from .._utils import json_dumps
from ..context import _current_or_none, request
from ..response import HTTPError, HTTPResponse

__all__ = ["validate_request", "ValidationError"]

_TRUE = frozenset(("true", "1", "yes", "on"))
_FALSE = frozenset(("false", "0", "no", "off"))


class ValidationError(ValueError):
    """A value does not match its declared type (``field``, ``message``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Fields(dict):
    """A dataclass as a schema (``name -> type``); ``defaults``: the fields that have one."""

    __slots__ = ("defaults",)
    defaults: dict[str, dataclasses.Field[Any]]


#: Dataclass -> its schema, built when ``validate_request`` is applied (read-only later).
_DATACLASS_SCHEMAS: dict[type, _Fields] = {}


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _dataclass_schema(cls: type) -> _Fields:
    """The schema of a dataclass: its fields' resolved types; defaults may be missing."""
    schema = _DATACLASS_SCHEMAS.get(cls)
    if schema is not None:
        return schema
    try:
        hints = typing.get_type_hints(cls)
    except Exception as e:
        raise TypeError(
            f"validate_request: cannot resolve the field types of {cls.__qualname__} ({e}); "
            "define the types it names at module level"
        ) from None
    schema = _DATACLASS_SCHEMAS[cls] = _Fields()
    schema.defaults = {}
    for f in dataclasses.fields(cls):
        schema[f.name] = hints.get(f.name, f.type)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            schema.defaults[f.name] = f
    for tp in list(schema.values()):
        _prepare(tp)
    return schema


def _prepare(tp: Any) -> None:
    """Build the schemas of the dataclasses a type mentions (at decoration time)."""
    if isinstance(tp, dict):
        for inner in tp.values():
            _prepare(inner)
    elif _is_dataclass_type(tp):
        _dataclass_schema(tp)
    else:
        for arg in typing.get_args(tp):
            _prepare(arg)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[operator]


def _as_schema(name: str, schema: Any) -> dict[str, Any] | None:
    """A ``validate_request`` schema as a dict: a dict as it is, a dataclass as its fields."""
    if schema is None or isinstance(schema, dict):
        _prepare(schema or {})
        return schema
    if _is_dataclass_type(schema):
        return _dataclass_schema(schema)
    raise TypeError(
        f"validate_request({name}=...) must be a dict of field -> type or a dataclass, "
        f"not {schema!r}"
    )


def _type_name(tp: Any) -> str:
    if isinstance(tp, dict):
        return "object"
    if typing.get_origin(tp) is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", str(tp))


def _json_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _check(field: str, value: Any, tp: Any, errors: list[dict[str, str]]) -> None:
    """Check a JSON value against ``tp``; append problems to ``errors``."""
    if tp is Any or tp is object:
        return
    optional, tp = _optional(tp)
    if value is None:
        if not optional:
            errors.append({"field": field, "message": f"must be {_type_name(tp)}, not null"})
        return
    if _is_dataclass_type(tp):
        tp = _dataclass_schema(tp)
    if isinstance(tp, dict):  # a nested schema
        if not isinstance(value, dict):
            errors.append(
                {"field": field, "message": f"must be an object, not {_json_name(value)}"}
            )
            return
        _check_object(value, tp, errors, field + ".")
        return
    origin = typing.get_origin(tp)
    if origin in _UNION_TYPES:
        for option in typing.get_args(tp):
            sub: list[dict[str, str]] = []
            _check(field, value, option, sub)
            if not sub:
                return
        errors.append(
            {"field": field, "message": f"must be {_type_name(tp)}, not {_json_name(value)}"}
        )
        return
    base = origin or tp
    ok: bool
    if base is bool:
        ok = isinstance(value, bool)
    elif base is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif base is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif base in (list, tuple, set, frozenset):
        ok = isinstance(value, list)
    elif isinstance(base, type):
        ok = isinstance(value, base)
    else:
        ok = True
    if not ok:
        errors.append(
            {"field": field, "message": f"must be {_type_name(tp)}, not {_json_name(value)}"}
        )
        return
    args = typing.get_args(tp)
    if base in (list, tuple, set, frozenset) and args and args[0] is not Ellipsis:
        for i, item in enumerate(value):
            _check(f"{field}[{i}]", item, args[0], errors)
    elif base is dict and len(args) == 2:
        for k, item in value.items():
            _check(f"{field}.{k}", item, args[1], errors)


def _check_object(
    data: dict[str, Any], schema: dict[str, Any], errors: list[dict[str, str]], prefix: str = ""
) -> None:
    defaults = getattr(schema, "defaults", ())
    for name, tp in schema.items():
        field = prefix + name
        if name not in data:
            if not _optional(tp)[0] and name not in defaults:
                errors.append({"field": field, "message": "is required"})
            continue
        _check(field, data[name], tp, errors)


def _coerce(field: str, raw: str, tp: Any) -> Any:
    """Turn a query-string value into ``tp`` (int, float, bool, str)."""
    if tp is Any or tp is str or tp is object:
        return raw
    if tp is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValidationError(field, "must be a boolean (true/false)")
    if tp is int:
        try:
            return int(raw.strip())
        except ValueError:
            raise ValidationError(field, "must be an integer") from None
    if tp is float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValidationError(field, "must be a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValidationError(field, "must be a finite number")
        return value
    if typing.get_origin(tp) in _UNION_TYPES:
        for option in typing.get_args(tp):
            try:
                return _coerce(field, raw, option)
            except ValidationError:
                continue
        raise ValidationError(field, f"must be {_type_name(tp)}")
    if callable(tp):
        try:
            return tp(raw)
        except (TypeError, ValueError):
            raise ValidationError(field, f"must be {_type_name(tp)}") from None
    return raw


def _validate_query(schema: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    query = request.query
    values: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    defaults = getattr(schema, "defaults", {})
    for name, declared in schema.items():
        optional, tp = _optional(declared)
        base = typing.get_origin(tp) or tp
        try:
            if base in (list, tuple, set, frozenset):
                raws = query.getall(name)
                if not raws:
                    if name in defaults:
                        values[name] = _default(defaults[name])
                    elif not optional:
                        errors.append({"field": name, "message": "query parameter is required"})
                    continue
                args = typing.get_args(tp)
                item = args[0] if args else str
                values[name] = [_coerce(name, r, item) for r in raws]
                continue
            raw = query.get(name)
            if raw is None:
                if name in defaults:
                    values[name] = _default(defaults[name])
                elif not optional:
                    errors.append({"field": name, "message": "query parameter is required"})
                else:
                    values[name] = None
                continue
            values[name] = _coerce(name, raw, tp)
        except ValidationError as e:
            errors.append({"field": e.field, "message": e.message})
    return values, errors


def _error(status: int, message: str, details: list[dict[str, str]]) -> HTTPResponse:
    body = json_dumps({"error": message, "details": details})
    return HTTPResponse(body, status=status, headers={"Content-Type": "application/json"})


def _run_checks(body: dict[str, Any] | None, query: dict[str, Any] | None) -> HTTPResponse | None:
    c = _current_or_none()
    if query is not None:
        values, errors = _validate_query(query)
        if errors:
            return _error(400, "Invalid query parameters", errors)
        if c is not None:
            c.validated_query = values
    if body is not None:
        try:
            data = request.json
        except HTTPError as e:
            if e.status_code == 400:
                return _error(
                    400,
                    "Invalid JSON",
                    [{"field": "body", "message": "the body is not valid JSON"}],
                )
            raise
        if not isinstance(data, dict):
            what = "missing" if data is None else f"a JSON {_json_name(data)}"
            return _error(
                422,
                "Validation failed",
                [{"field": "body", "message": f"must be a JSON object, got {what}"}],
            )
        errors = []
        _check_object(data, body, errors)
        if errors:
            return _error(422, "Validation failed", errors)
        if c is not None:
            c.validated_body = data
    return None


def validate_request(
    body: dict[str, Any] | type | None = None, query: dict[str, Any] | type | None = None
) -> Any:
    """Check the JSON body and query parameters against simple type schemas.

    Schemas map names to types: ``str``, ``int``, ``float``, ``bool``, ``list``,
    ``dict``, ``list[int]``, ``dict[str, float]``, ``Optional[X]`` / ``X | None`` (may be
    missing or null), a nested ``{...}`` schema or dataclass, or ``Any``. A dataclass
    works as a schema too (as in Lcore 0.0.4): its fields and their types, a field with
    a default may be missing (a missing query parameter then gets the default). Query
    values are strings and are coerced (``int``, ``float``, ``bool`` from
    ``true/false/1/0/yes/no/on/off``; ``list[X]`` takes every repeat). Answers, with a JSON body ``{"error": ...,
    "details": [{"field": ..., "message": ...}]}``:

    - ``400`` "Invalid query parameters": a required query parameter is missing or a
      value cannot be coerced;
    - ``400`` "Invalid JSON": the body is not valid JSON;
    - ``422`` "Validation failed": the body is missing, not an object, or fields are
      missing or of the wrong type.

    On success the handler runs; the coerced query values are ``ctx.validated_query``
    and the body ``ctx.validated_body``. Works on ``def`` and ``async def`` handlers.
    The schemas are kept on the wrapper as ``__lcore_validation__`` for the API docs.
    """
    spec = {"body": body, "query": query}
    body_schema = _as_schema("body", body)
    query_schema = _as_schema("query", query)

    def decorator(func: Any) -> Any:
        if _bridge.is_async_callable(func):

            @functools.wraps(func)
            async def async_wrapper(*a: Any, **ka: Any) -> Any:
                if body_schema is not None and request._body_needed:
                    # Not read yet (under ASGI it is, before the handler): reading may
                    # block, so check in a worker thread rather than on the event loop.
                    refused = await _bridge.run_sync(
                        _current_or_none(), _run_checks, body_schema, query_schema
                    )
                else:
                    refused = _run_checks(body_schema, query_schema)
                if refused is not None:
                    return refused
                return await func(*a, **ka)

            async_wrapper.__lcore_validation__ = spec  # type: ignore[attr-defined]
            return async_wrapper

        @functools.wraps(func)
        def wrapper(*a: Any, **ka: Any) -> Any:
            refused = _run_checks(body_schema, query_schema)
            if refused is not None:
                return refused
            return func(*a, **ka)

        wrapper.__lcore_validation__ = spec  # type: ignore[attr-defined]
        return wrapper

    return decorator
