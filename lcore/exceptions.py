"""Exceptions raised by lcore for usage errors and malformed input.

Usage errors also subclass the matching stdlib type (a route error is a ``ValueError``),
so plain ``except ValueError`` clauses keep working.
"""

from __future__ import annotations

__all__ = [
    "LcoreException",
    "RouteError",
    "RouteReset",
    "RouteSyntaxError",
    "RouteBuildError",
    "RouterUnknownModeError",
    "PluginError",
    "TemplateError",
    "MultipartError",
    "ConfigError",
]


class LcoreException(Exception):
    """Base class for every exception lcore raises on purpose."""


class RouteError(LcoreException, ValueError):
    """A route could not be added, matched or built."""


class RouteReset(LcoreException):
    """Raised by a plugin to ask for the route's callback to be rebuilt."""


class RouteSyntaxError(RouteError):
    """A route rule has a syntax error (unbalanced ``<``, unknown filter...)."""


class RouteBuildError(RouteError):
    """A URL could not be built from a named route (missing name or argument)."""


class RouterUnknownModeError(RouteError):
    """A route rule names a filter the router does not know."""


class PluginError(LcoreException, TypeError):
    """A plugin is not usable (wrong API version, missing ``apply``...)."""


class TemplateError(LcoreException):
    """A template could not be found, compiled or rendered."""


class MultipartError(LcoreException, ValueError):
    """A multipart/form-data body is malformed or over a limit."""


class ConfigError(LcoreException, ValueError):
    """A configuration value or file is invalid."""
