"""The app the /docs "try it out" browser test serves (tests/e2e/test_docs_page.py)."""

from __future__ import annotations

import dataclasses

from lcore import Lcore, abort, auth_basic, request, validate_request

app = Lcore()
app.config["openapi.title"] = "Notes API"

NOTES: dict[int, dict[str, object]] = {1: {"id": 1, "title": "Buy milk", "done": False}}


@dataclasses.dataclass
class Note:
    """A note."""

    id: int
    title: str
    done: bool = False


@dataclasses.dataclass
class NewNote:
    title: str
    done: bool = False


@app.get("/health")
def health() -> str:
    """Liveness probe."""
    return "ok"


@app.get("/notes/<id:int>")
def get_note(id: int) -> Note:
    """Fetch one note."""
    if id not in NOTES:
        abort(404, "No such note")
    return NOTES[id]  # type: ignore[return-value]


@app.get("/notes")
def search_notes(q: str = "") -> list[Note]:
    """Search notes by title."""
    return [n for n in NOTES.values() if q.lower() in str(n["title"]).lower()]  # type: ignore[misc]


@app.post("/notes", status=201, security="bearer")
@validate_request(body=NewNote)
def create_note() -> Note:
    """Create a note (Bearer token ``tok``)."""
    if request.get_header("Authorization") != "Bearer tok":
        abort(401, "Bearer token required")
    data = request.json
    note = {"id": max(NOTES) + 1, "title": data["title"], "done": bool(data.get("done"))}
    NOTES[note["id"]] = note  # type: ignore[index]
    return note  # type: ignore[return-value]


@app.get("/whoami")
@auth_basic(lambda user, password: password == "pw", realm="notes")
def whoami() -> dict:
    """Who the Basic credentials say you are."""
    return {"user": request.auth[0]}


@app.get("/files/<p:path>")
def file_info(p: str) -> dict:
    """Echo a path parameter that may contain slashes."""
    return {"path": p}


app.enable_docs()
