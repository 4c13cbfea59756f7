"""RedisSessionStore against a real redis-server: shared sessions, TTLs, off-loop calls,
and what a request gets while Redis is down (503, or an empty session)."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest

from lcore import Lcore, ctx
from lcore.sessions import RedisSessionStore

from . import session_app

redis = pytest.importorskip("redis")


def _prefix() -> str:
    return f"s{uuid.uuid4().hex[:8]}:"


def make_app(store: RedisSessionStore, **options) -> Lcore:
    return session_app.make_app(store, secret="redis-secret", **options)[0]


def test_data_in_redis_with_a_ttl(redis_url, make_client):
    prefix = _prefix()
    store = RedisSessionStore(redis_url, prefix=prefix)
    c = make_client(make_app(store, max_age=600))
    sid = c.post("/login/alice").json["id"]
    r = redis.Redis.from_url(redis_url)
    assert r.get(prefix + sid) == b'{"user":"alice"}'
    assert 590 < r.ttl(prefix + sid) <= 600
    assert "alice" not in c.cookies["lcore_session"]
    assert c.get("/me").json["user"] == "alice"
    assert c.get("/ame").json["user"] == "alice"
    sid2 = c.post("/login/alice").json["id"]  # regenerate: the old key is deleted
    assert sid2 != sid and r.get(prefix + sid) is None and r.exists(prefix + sid2)
    c.post("/alogout")
    assert r.exists(prefix + sid2) == 0
    assert c.get("/ame").json["user"] is None
    r.close()
    store.close()


def test_two_stores_share_sessions(redis_url, make_client):
    """As two worker processes would: each with its own store, one Redis."""
    prefix = _prefix()
    one, two = (
        RedisSessionStore(redis_url, prefix=prefix),
        RedisSessionStore(redis_url, prefix=prefix),
    )
    c1 = make_client(make_app(one))
    c1.post("/login/bob")
    c2 = make_client(make_app(two))
    header = {"Cookie": f"lcore_session={c1.cookies['lcore_session']}"}
    assert c2.get("/ame", headers=header).json["user"] == "bob"
    one.close()
    two.close()


def test_expired_key_is_an_empty_session(redis_url, make_client):
    prefix = _prefix()
    store = RedisSessionStore(redis_url, prefix=prefix)
    c = make_client(make_app(store))
    sid = c.post("/login/carol").json["id"]
    redis.Redis.from_url(redis_url).delete(prefix + sid)
    assert c.get("/me").json["user"] is None
    store.close()


def test_redis_is_asked_only_when_needed_and_off_the_loop(redis_server, make_client, proto):
    store = RedisSessionStore(redis_server.url, prefix=_prefix())
    threads = {}
    real_load = store.load

    def spy(sid):
        threads["load"] = threading.get_ident()
        return real_load(sid)

    store.load = spy
    app = make_app(store)

    @app.get("/where")
    async def where():
        threads["handler"] = threading.get_ident()
        return {"user": ctx.session.get("user")}

    c = make_client(app)
    r = redis.Redis.from_url(redis_server.url)
    c.get("/me")  # no cookie: nothing to read
    c.post("/login/dave")
    r.config_resetstat()
    c.get("/plain")
    stats = r.info("commandstats")
    calls = {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()}
    assert (
        calls.get("get") is None and calls.get("set") is None
    )  # a sync handler that never reads it
    assert c.get("/me").json["user"] == "dave"  # read, not changed: one GET, no SET
    calls = {k.removeprefix("cmdstat_"): v["calls"] for k, v in r.info("commandstats").items()}
    assert calls.get("get") == 1 and calls.get("set") is None
    assert c.get("/where").json["user"] == "dave"
    assert threads["load"] != threads["handler"]  # never on the event loop's thread
    r.close()
    store.close()


def test_redis_stopped_answers_503_by_default(redis_server, make_client, caplog):
    caplog.set_level(logging.WARNING, logger="lcore.sessions")
    store = RedisSessionStore(redis_server.url, prefix=_prefix(), socket_timeout=1)
    c = make_client(make_app(store))
    c.post("/login/erin")
    assert c.get("/ame").json["user"] == "erin"

    redis_server.stop()
    for path in ("/me", "/ame"):
        r = c.get(path)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5"
        assert str(redis_server.port) not in r.text  # the Redis error stays in the log
    assert c.post("/login/erin").status_code == 503
    assert c.get("/plain").status_code == 200  # pages that never read the session still work
    warnings = [
        x for x in caplog.records if x.name == "lcore.sessions" and x.levelno == logging.WARNING
    ]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()
    assert redis_server.url.split("//")[1].split("/")[0] in warnings[0].getMessage()

    redis_server.start()  # same port, empty: the old session is gone, logging in works again
    assert c.get("/me").json["user"] is None
    assert c.post("/login/erin").status_code == 200
    assert c.get("/ame").json["user"] == "erin"
    assert any("reachable again" in x.getMessage() for x in caplog.records)
    store.close()


def test_redis_stopped_continues_with_an_empty_session(redis_server, make_client, caplog):
    caplog.set_level(logging.WARNING, logger="lcore.sessions")
    store = RedisSessionStore(redis_server.url, prefix=_prefix(), socket_timeout=1)
    c = make_client(make_app(store, on_unavailable="empty"))
    c.post("/login/fay")
    cookie = c.cookies["lcore_session"]

    redis_server.stop()
    assert c.get("/me").json["user"] is None
    assert c.get("/ame").json["user"] is None
    r = c.post("/login/gus")
    assert r.status_code == 200 and "set-cookie" not in r.headers  # not saved: nowhere to save it
    assert (
        c.cookies["lcore_session"] == cookie
    )  # the client keeps its cookie for when Redis is back
    messages = [x.getMessage() for x in caplog.records if x.name == "lcore.sessions"]
    assert any("unreachable" in m for m in messages)
    assert any("changes are lost" in m for m in messages)
    store.close()


@pytest.mark.parametrize(("mode", "status"), [("error", 503), ("empty", 200)])
def test_redis_stops_between_read_and_save(redis_server, make_client, caplog, mode, status):
    caplog.set_level(logging.WARNING, logger="lcore.sessions")
    store = RedisSessionStore(redis_server.url, prefix=_prefix(), socket_timeout=1)
    app = make_app(store, on_unavailable=mode)

    @app.post("/rename/<name>")
    def rename(name):
        old = ctx.session.get("user")  # read while Redis is up...
        redis_server.stop()  # ...which then goes away before the save
        ctx.session["user"] = name
        return {"was": old}

    c = make_client(app)
    c.post("/login/hal")
    r = c.post("/rename/ida")
    assert r.status_code == status
    assert "set-cookie" not in r.headers
    if mode == "empty":
        assert r.json == {"was": "hal"}
        assert any("changes are lost" in x.getMessage() for x in caplog.records)
    store.close()
