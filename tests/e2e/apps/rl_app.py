"""A rate-limited app whose buckets live in Redis, shared by every worker process."""

import os

from workers import tag_workers

from lcore import Lcore, RedisRateLimitBackend, rate_limit

app = Lcore()


tag_workers(app)

backend = RedisRateLimitBackend(redis_url=os.environ["RL_REDIS_URL"], prefix="e2e:rl:")
LIMIT = int(os.environ.get("RL_LIMIT", "10"))


@app.route("/limited")
@rate_limit(LIMIT, per=60, backend=backend)
def limited():
    return {"pid": os.getpid()}


@app.route("/alimited")
@rate_limit(LIMIT, per=60, backend=backend)
async def alimited():
    return {"pid": os.getpid()}
