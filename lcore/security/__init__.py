"""Security helpers: Basic auth, rate limiting, request validation, password hashing."""

from .auth import auth_basic
from .passwords import hash_password, verify_password
from .ratelimit import MemoryRateLimitBackend, RateLimitBackend, RedisRateLimitBackend, rate_limit
from .validation import ValidationError, validate_request

__all__ = [
    "auth_basic",
    "rate_limit",
    "RateLimitBackend",
    "MemoryRateLimitBackend",
    "RedisRateLimitBackend",
    "validate_request",
    "ValidationError",
    "hash_password",
    "verify_password",
]
