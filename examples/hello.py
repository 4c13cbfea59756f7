"""A small lcore app: the same `app` runs under gunicorn, uvicorn, hypercorn and lcore's server.

    python -m lcore_asgi examples.hello:app      # embedded server (HTTP/1.1 + HTTP/2)
    gunicorn examples.hello:app                  # WSGI
    uvicorn examples.hello:app                   # ASGI
"""

import asyncio

from lcore import Lcore, ctx, request

app = Lcore()


@app.route("/")
def index():
    return "Hello from lcore!"


@app.route("/hello/<name>")
def hello(name):
    return {"hello": name, "protocol": request.environ.get("SERVER_PROTOCOL"), "http": request.http_version}


@app.route("/users/<id:int>")
def user(id):
    return {"id": id, "name": f"user{id}"}


@app.post("/echo")
def echo():
    return {"received": request.json}


@app.route("/slow")
async def slow():
    await asyncio.sleep(0.05)
    return {"slept": 0.05, "path": ctx.request.path}
