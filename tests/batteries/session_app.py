"""The app the session tests share (cookie, memory and Redis stores)."""

from __future__ import annotations

from lcore import Lcore, ctx
from lcore.sessions import SessionMiddleware, SessionStore

__all__ = ["SECRET", "make_app"]

SECRET = "session-secret"


def make_app(store: SessionStore | None = None, **options) -> tuple[Lcore, SessionMiddleware]:
    """An app with ``SessionMiddleware(secret, store, **options)`` (``secret=``: SECRET) and
    routes that log in, read the session (``def`` and ``async def``), log out and count."""
    app = Lcore()
    mw = app.use(SessionMiddleware(options.pop("secret", SECRET), store, **options))

    @app.post("/login/<name>")
    def login(name):
        ctx.session.regenerate()
        ctx.session["user"] = name
        return {"id": ctx.session.id}

    @app.get("/me")
    def me():
        return {"user": ctx.session.get("user"), "new": ctx.session.is_new}

    @app.get("/ame")
    async def ame():
        return {"user": ctx.session.get("user"), "new": ctx.session.is_new}

    @app.post("/logout")
    def logout():
        ctx.session.clear()
        return "bye"

    @app.post("/alogout")
    async def alogout():
        ctx.session.clear()
        return "bye"

    @app.get("/plain")
    def plain():
        return "no session here"

    @app.post("/count")
    async def count():
        ctx.session["n"] = ctx.session.get("n", 0) + 1
        return {"n": ctx.session["n"]}

    return app, mw
