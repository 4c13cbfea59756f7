"""The app module for issue 12's real-server checks: one `app` for every server.

- ``/t/*``: ``def`` handlers that read the body under TimeoutMiddleware + BodyLimit.
- ``/bad/*``: results that are not a response body (a set, a Flask-style tuple).
"""

import time

from lcore import BodyLimitMiddleware, Lcore, TimeoutMiddleware, request

app = Lcore()
app.use(TimeoutMiddleware(0.5), routes="/t/")
app.use(BodyLimitMiddleware(max_size=100), routes="/t/")


@app.route("/health")
def health():
    return {"ok": True}


@app.post("/t/json")
def t_json():
    return {"json": request.json}


@app.post("/t/body")
def t_body():
    return {"size": len(request.body.read())}


@app.post("/t/forms")
def t_forms():
    return {"name": request.forms.get("name")}


@app.post("/t/files")
def t_files():
    f = request.files.get("upload")
    return {"file": f.filename, "size": len(f.file.read())}


@app.route("/t/slow")
def t_slow():
    time.sleep(2)
    return "late"


@app.post("/body")
def body():
    return {"size": len(request.body.read())}


@app.route("/bad/set")
def bad_set():
    return {"a", "b"}


@app.route("/bad/set-of-int")
def bad_set_of_int():
    return {1, 2}


@app.route("/bad/tuple")
def bad_tuple():
    return ("body", 201)


@app.route("/bad/atuple")
async def bad_atuple():
    return ("body", 201)
