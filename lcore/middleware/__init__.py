"""Middleware base classes and the built-in middleware."""

from .base import Middleware, MiddlewareHook, MiddlewarePipeline
from .bodylimit import BodyLimitMiddleware
from .compression import CompressionMiddleware
from .conditional import ConditionalGetMiddleware
from .cors import CORSMiddleware
from .csrf import CSRFMiddleware
from .logging import RequestLoggerMiddleware
from .proxy import ProxyFixMiddleware
from .requestid import RequestIDMiddleware
from .security_headers import SecurityHeadersMiddleware
from .timeout import TimeoutMiddleware

__all__ = ["Middleware", "MiddlewareHook", "MiddlewarePipeline"]
__all__ += [
    "ProxyFixMiddleware",
    "TimeoutMiddleware",
    "BodyLimitMiddleware",
    "RequestIDMiddleware",
    "RequestLoggerMiddleware",
    "CORSMiddleware",
    "SecurityHeadersMiddleware",
    "CSRFMiddleware",
    "CompressionMiddleware",
    "ConditionalGetMiddleware",
]
