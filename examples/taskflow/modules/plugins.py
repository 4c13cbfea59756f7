"""Custom plugins (``setup``/``apply``/``close``) and custom middleware."""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time

from lcore import MiddlewareHook, response

audit_logger = logging.getLogger('taskflow.audit')


class APIVersionPlugin:
    """Adds API version info to every JSON response."""
    name = 'api_version'
    api = 2

    def __init__(self, version='0.0.1'):
        self.version = version

    def setup(self, app):
        """Called once when the plugin is installed."""
        self.app = app
        print(f"  [Plugin] APIVersionPlugin v{self.version} installed")

    def apply(self, callback, route):
        """Called for each route. Wraps the callback."""
        # Skip if route opts out
        if route.config.get('skip_versioning'):
            return callback
        version = self.version

        def stamp(result):
            if isinstance(result, dict):
                result['_api_version'] = version
            response.set_header('X-API-Version', version)
            return result

        if inspect.iscoroutinefunction(callback):
            @functools.wraps(callback)
            async def async_wrapper(*args, **kwargs):
                return stamp(await callback(*args, **kwargs))
            return async_wrapper

        @functools.wraps(callback)
        def wrapper(*args, **kwargs):
            return stamp(callback(*args, **kwargs))
        return wrapper


class RequestCounterPlugin:
    """Tracks total request count per route."""
    name = 'request_counter'
    api = 2

    def __init__(self):
        self.counts = {}
        self._lock = threading.Lock()

    def setup(self, app):
        self.app = app

    def apply(self, callback, route):
        rule = route.rule
        self.counts.setdefault(rule, 0)
        counts, lock = self.counts, self._lock

        def count(result):
            with lock:
                counts[rule] = counts.get(rule, 0) + 1
                number = counts[rule]
            if isinstance(result, dict):
                result['_request_number'] = number
            return result

        if inspect.iscoroutinefunction(callback):
            @functools.wraps(callback)
            async def async_wrapper(*args, **kwargs):
                return count(await callback(*args, **kwargs))
            return async_wrapper

        @functools.wraps(callback)
        def wrapper(*args, **kwargs):
            return count(callback(*args, **kwargs))
        return wrapper

    def get_stats(self):
        with self._lock:
            return dict(self.counts)

    def close(self):
        """Called when plugin is uninstalled."""
        print(f"  [Plugin] RequestCounterPlugin closed. Final stats: {self.counts}")


class TimingMiddleware(MiddlewareHook):
    """Adds an ``X-Response-Time`` header (milliseconds spent in the handler chain)."""
    name = 'timing'
    order = 2

    def pre(self, ctx):
        ctx.state['timing_start'] = time.perf_counter()
        return None

    def post(self, ctx, result):
        elapsed = (time.perf_counter() - ctx.state.get('timing_start', time.perf_counter())) * 1000
        ctx.response.set_header('X-Response-Time', f"{elapsed:.2f}ms")
        return result


class AuditLogHook(MiddlewareHook):
    """Log state-changing requests (who did what) and keep the last 100 in memory."""
    name = 'audit_log'
    order = 8

    def __init__(self, max_entries=100):
        self.entries = []
        self.max_entries = max_entries
        self._lock = threading.Lock()

    def pre(self, ctx):
        return None

    def post(self, ctx, result):
        method = ctx.request.method
        if method in ('POST', 'PUT', 'PATCH', 'DELETE'):
            user = getattr(ctx, 'user', None) or {}
            entry = {
                'at': time.time(),
                'method': method,
                'path': ctx.request.path,
                'user': user.get('username'),
                'request_id': ctx.request_id,
            }
            audit_logger.info("%(user)s %(method)s %(path)s", entry)
            with self._lock:
                self.entries.append(entry)
                del self.entries[:-self.max_entries]
        return result

