"""Middleware base classes (built-in middleware live in submodules)."""

from .base import Middleware, MiddlewareHook, MiddlewarePipeline

__all__ = ["Middleware", "MiddlewareHook", "MiddlewarePipeline"]
