"""A rate-limited app whose buckets live in Redis, shared by every worker process."""

import os

from lcore import Lcore, RedisRateLimitBackend, rate_limit, response

app = Lcore()


@app.hook("on_response_send")
def tag_worker():
    response.set_header("X-Worker", str(os.getpid()))

backend = RedisRateLimitBackend(redis_url=os.environ["RL_REDIS_URL"], prefix="e2e:rl:")
LIMIT = int(os.environ.get("RL_LIMIT", "10"))


@app.route("/health")
def health():
    return {"ok": True}


@app.route("/limited")
@rate_limit(LIMIT, per=60, backend=backend)
def limited():
    return {"pid": os.getpid()}


@app.route("/alimited")
@rate_limit(LIMIT, per=60, backend=backend)
async def alimited():
    return {"pid": os.getpid()}
