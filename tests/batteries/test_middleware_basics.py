"""Names, orders and phases of the built-in middleware, and what lcore exports."""

from __future__ import annotations

import pytest

import lcore
from lcore import (
    BodyLimitMiddleware,
    CompressionMiddleware,
    CORSMiddleware,
    CSRFMiddleware,
    Lcore,
    MiddlewareHook,
    ProxyFixMiddleware,
    RequestIDMiddleware,
    RequestLoggerMiddleware,
    SecurityHeadersMiddleware,
    TimeoutMiddleware,
)

EXPECTED = [
    (ProxyFixMiddleware, -10, "pre"),
    (TimeoutMiddleware, -5, "post"),
    (BodyLimitMiddleware, 0, "pre"),
    (RequestIDMiddleware, 1, "post"),
    (RequestLoggerMiddleware, 2, "post"),
    (CORSMiddleware, 3, "pre"),
    (SecurityHeadersMiddleware, 5, "post"),
    (CSRFMiddleware, 10, "pre"),
    (CompressionMiddleware, 90, "post"),
]


@pytest.mark.parametrize(
    ("cls", "order", "phase"), EXPECTED, ids=[c.__name__ for c, _, _ in EXPECTED]
)
def test_order_and_phase_are_class_attributes(cls, order, phase):
    assert cls.order == order
    assert cls.phase == phase
    assert isinstance(cls.name, str) and cls.name


def test_all_exported_from_lcore_and_lcore_middleware():
    import lcore.middleware
    import lcore.security

    for cls, _, _ in EXPECTED:
        assert cls.__name__ in lcore.__all__
        assert cls.__name__ in lcore.middleware.__all__
        assert getattr(lcore.middleware, cls.__name__) is cls
    for name in (
        "auth_basic",
        "rate_limit",
        "RateLimitBackend",
        "RedisRateLimitBackend",
        "validate_request",
        "hash_password",
        "verify_password",
    ):
        assert name in lcore.__all__
        assert getattr(lcore, name) is getattr(lcore.security, name)
    assert set(lcore.middleware.__all__) >= {"Middleware", "MiddlewareHook", "MiddlewarePipeline"}


def test_full_stack_runs_in_documented_order(make_client):
    app = Lcore()
    mws = [
        CompressionMiddleware(),
        CSRFMiddleware(secret="s"),
        SecurityHeadersMiddleware(),
        CORSMiddleware(),
        RequestLoggerMiddleware(),
        RequestIDMiddleware(),
        BodyLimitMiddleware(),
        TimeoutMiddleware(5),
        ProxyFixMiddleware(),
    ]
    for mw in mws:
        assert app.use(mw) is mw
    shown = app.show_middleware() if hasattr(app, "show_middleware") else app.middleware.show()
    assert [m["order"] for m in shown] == [-10, -5, 0, 1, 2, 3, 5, 10, 90]
    app.route("/", callback=lambda: "ok")
    r = make_client(app).get("/")
    assert r.status_code == 200 and r.text == "ok"
    assert r.headers["X-Request-ID"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_builtin_hooks_run_on_the_loop_without_thread_hops():
    for mw in (
        ProxyFixMiddleware(),
        BodyLimitMiddleware(),
        RequestIDMiddleware(),
        CORSMiddleware(),
        SecurityHeadersMiddleware(),
        CompressionMiddleware(),
    ):
        assert isinstance(mw, MiddlewareHook)
        assert mw._lcore_nonblocking is True
    # The wrapping ones have a sync and an async implementation.
    for mw in (TimeoutMiddleware(1), RequestLoggerMiddleware(), CSRFMiddleware(secret="x")):
        assert callable(mw) and callable(mw.acall)


def test_route_skip_by_name_skips_post_middleware(make_client):
    app = Lcore()
    app.use(SecurityHeadersMiddleware())
    app.route("/plain", callback=lambda: "x", skip=["security_headers"])
    app.route("/full", callback=lambda: "x")
    c = make_client(app)
    assert "X-Frame-Options" not in c.get("/plain").headers
    assert c.get("/full").headers["X-Frame-Options"] == "SAMEORIGIN"


def test_lcore_version_still_exported():
    assert lcore.__version__
