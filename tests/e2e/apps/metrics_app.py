"""An app with Metrics and two components whose async start/stop write to a log file.

Env: COMPONENT_LOG (file the components append ``<pid> <event>`` lines to),
COMPONENT_FAIL=1 (a third component's start raises), PROMETHEUS_MULTIPROC_DIR.
"""

import asyncio
import os

from workers import tag_workers

from lcore import Lcore, ctx
from lcore.components import Component
from lcore.metrics import Metrics

app = Lcore()
app.install(Metrics())
LOG = os.environ.get("COMPONENT_LOG", "")


def _log(event: str) -> None:
    if LOG:
        with open(LOG, "a") as f:
            f.write(f"{os.getpid()} {event}\n")


class Pool(Component):
    """Stands for a connection pool made on the event loop at start."""

    name = "pool"
    size = 2

    async def start(self, app):
        await asyncio.sleep(0.01)
        self.loop = asyncio.get_running_loop()
        _log(f"start pool size={self.size}")

    async def stop(self, app):
        await asyncio.sleep(0.01)
        _log("stop pool")

    def provide(self):
        return self


class Mailer(Component):
    name = "mailer"

    async def start(self, app):
        _log("start mailer")

    async def stop(self, app):
        _log("stop mailer")


class Broken(Component):
    name = "broken"

    async def start(self, app):
        _log("start broken")
        raise ConnectionError("the broker is down")

    async def stop(self, app):
        _log("stop broken")


app.install(Pool(size=int(os.environ.get("POOL_SIZE", "2"))))
app.install(Mailer())
if os.environ.get("COMPONENT_FAIL"):
    app.install(Broken())


tag_workers(app)


@app.route("/hit/<n:int>")
def hit(n):
    return {"n": n, "pool": ctx.pool.size}


@app.route("/ahit")
async def ahit():
    # The pool's loop is the one this handler runs on (lifespan / persistent loop).
    return {"same_loop": asyncio.get_running_loop() is ctx.pool.loop}
