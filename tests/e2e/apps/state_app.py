"""Sessions and a cache held in Redis, served by several worker processes (e2e tests)."""

import os

from workers import tag_workers

from lcore import Lcore, ctx, request
from lcore.cache import Cache, RedisCacheBackend, cached
from lcore.sessions import RedisSessionStore, SessionMiddleware

REDIS_URL = os.environ["STATE_REDIS_URL"]

app = Lcore()
app.use(
    SessionMiddleware(
        "e2e-session-secret",
        RedisSessionStore(REDIS_URL, prefix="e2e:s:", socket_timeout=1),
        on_unavailable=os.environ.get("STATE_ON_UNAVAILABLE", "error"),
    )
)
cache = Cache(RedisCacheBackend(REDIS_URL, prefix="e2e:c:", socket_timeout=1))


tag_workers(app)


@app.post("/login/<name>")
def login(name):
    ctx.session.regenerate()
    ctx.session["user"] = name
    return {"user": name}


@app.get("/me")
def me():
    return {"user": ctx.session.get("user")}


@app.get("/ame")
async def ame():
    return {"user": ctx.session.get("user")}


@app.put("/cache/<key>")
def put(key):
    cache.set(key, request.query.get("value"), ttl=60)
    return {"stored": key}


@app.get("/cache/<key>")
def get(key):
    return {"value": cache.get(key)}


@app.get("/acache/<key>")
async def aget(key):
    return {"value": await cache.aget(key)}


@app.get("/computed")
@cached(ttl=60, key="computed", cache=cache)
async def computed():
    return {"computed_by": os.getpid()}
