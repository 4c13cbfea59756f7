"""lcore.components: settings, enable, init/configure/start/stop order, middleware, the
API through DI, and the rollback of a failing start, under WSGI and ASGI."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from lcore import Lcore, TestClient, ctx
from lcore.components import Component, ComponentError, configure, get_component, list_components
from lcore.exceptions import PluginError


def _lifespan(app: Any) -> list[dict[str, Any]]:
    """Drive one ASGI lifespan (startup then shutdown); the messages the app sent."""

    async def main() -> list[dict[str, Any]]:
        msgs = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return msgs.pop(0)

        async def send(m: dict[str, Any]) -> None:
            sent.append(m)

        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
        return sent

    return anyio.run(main)


def _make(log: list[Any]) -> tuple[type[Component], type[Component], type[Component]]:
    class Db(Component):
        name = "db"
        url = "sqlite://"
        pool = 2

        def init(self, app):
            log.append("init db")

        def configure(self, app):
            log.append(("configure db", self.url, self.pool))

        async def start(self, app):
            log.append("start db")
            self.conn = {"url": self.url}

        async def stop(self, app):
            log.append("stop db")

        def provide(self):
            return self.conn

    class Cache(Component):
        name = "cache"
        ttl = 1.5
        dumps = json.dumps  # a function-valued setting (not a method)

        def start(self, app):
            log.append("start cache")

        def stop(self, app):
            log.append("stop cache")

        async def middleware(self, request, call_next):
            log.append("cache before " + request.path)
            result = await call_next(request)
            log.append("cache after")
            return result

    class Broken(Component):
        name = "broken"

        def start(self, app):
            log.append("start broken")
            raise ConnectionError("cannot reach it")

        def stop(self, app):  # never started: never stopped
            log.append("stop broken")

    return Db, Cache, Broken


def test_settings_are_class_attributes_overridable_by_configure_and_config() -> None:
    log: list[Any] = []
    Db, Cache, _ = _make(log)
    assert Db.settings() == {"enable": True, "middleware_order": 50, "url": "sqlite://", "pool": 2}
    assert "dumps" in Cache.settings()
    app = Lcore()
    app.install(Db(pool=3))
    configure(app, {"db": {"url": "postgres://x"}})
    app.config.load_dict({"db": {"pool": "7"}})  # the config namespace; a string is coerced
    _lifespan(app)
    assert ("configure db", "postgres://x", 7) in log
    with pytest.raises(TypeError, match="no setting"):
        Db(colour="red")
    app.config["db.pool"] = "many"
    with pytest.raises(ComponentError, match="db.pool"):
        get_component(app, "db").apply_settings(app.config)


def test_unique_names_and_lookup() -> None:
    log: list[Any] = []
    Db, Cache, _ = _make(log)
    app = Lcore()
    db = app.install(Db())
    app.install(Cache())
    assert get_component(app, "db") is db and [c.name for c in list_components(app)] == [
        "db",
        "cache",
    ]
    with pytest.raises(PluginError, match="already installed"):
        app.install(Db())
    with pytest.raises(PluginError, match="no name"):
        app.install(type("Nameless", (Component,), {})())
    with pytest.raises(KeyError):
        get_component(app, "nope")
    assert log == ["init db"]  # init runs once, at install


def test_order_under_asgi_lifespan_and_rollback_of_a_failing_start() -> None:
    log: list[Any] = []
    Db, Cache, Broken = _make(log)
    app = Lcore()
    app.install(Db())
    app.install(Cache())
    sent = _lifespan(app)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert log == [
        "init db",
        ("configure db", "sqlite://", 2),
        "start db",
        "start cache",
        "stop cache",
        "stop db",
    ]

    log.clear()
    app = Lcore()
    app.install(Db())
    app.install(Cache())
    app.install(Broken())
    sent = _lifespan(app)
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "broken" in sent[0]["message"] and "cannot reach it" in sent[0]["message"]
    # Started in install order; the failure stops those already started, in reverse.
    assert log == [
        "init db",
        ("configure db", "sqlite://", 2),
        "start db",
        "start cache",
        "start broken",
        "stop cache",
        "stop db",
    ]


def test_failing_start_answers_503_under_both_protocols(make_client) -> None:
    log: list[Any] = []
    Db, _, Broken = _make(log)
    app = Lcore()
    app.route("/", callback=lambda: "ok")
    app.install(Db())
    app.install(Broken())
    c = make_client(app)
    assert c.get("/").status_code == 500  # the request that ran the failed start
    r = c.get("/")
    assert r.status_code == 503 and "broken" in r.text and r.headers["retry-after"]
    assert log[-2:] == ["start broken", "stop db"]


def test_middleware_api_and_enable_under_both_protocols(make_client) -> None:
    log: list[Any] = []
    Db, Cache, _ = _make(log)
    app = Lcore()
    app.install(Db())
    app.install(Cache())

    @app.route("/")
    def home():
        log.append("handler")
        return {"db": ctx.db["url"]}

    @app.route("/raw", skip=["cache"])
    def raw():
        return "raw"

    c = make_client(app)
    assert c.get("/").json == {"db": "sqlite://"}
    assert log[-3:] == ["cache before /", "handler", "cache after"]
    assert log.count("start db") == 1 and log.count("start cache") == 1
    log.clear()
    assert c.get("/raw").text == "raw"
    assert log == []  # skip=[name] skips the component's middleware


def test_disabled_component_is_not_started_and_refuses_its_api(make_client) -> None:
    log: list[Any] = []
    Db, Cache, _ = _make(log)
    app = Lcore()
    app.install(Db())
    app.install(Cache())
    configure(app, {"db": {"enable": False}, "cache": {"enable": "false"}})

    @app.route("/")
    def home():
        return ctx.db

    r = make_client(app).get("/")
    assert r.status_code == 500  # ctx.db: ComponentError, the component is disabled
    assert "start db" not in log and "start cache" not in log
    assert "cache before /" not in log  # a disabled component's middleware does not run


def test_uninstall_detaches_the_middleware() -> None:
    log: list[Any] = []
    _, Cache, _ = _make(log)
    app = Lcore()
    app.route("/", callback=lambda: "ok")
    app.install(Cache())
    assert [m["name"] for m in app.show_middleware()] == ["cache"]
    app.uninstall("cache")
    assert app.show_middleware() == [] and list_components(app) == []
    assert TestClient(app).get("/").text == "ok"
