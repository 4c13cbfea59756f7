"""The app the docs browser test serves: a few documented routes and ``/docs`` enabled."""

from __future__ import annotations

from typing import Optional

from lcore import Lcore, validate_request

app = Lcore()
app.config["openapi.title"] = "Shop API"


@app.route("/health")
def health() -> str:
    """Liveness probe."""
    return "ok"


@app.route("/items/<id:int>")
def get_item(id: int) -> dict:
    """Retrieve an item by its ID.

    Returns the full item object including metadata."""
    return {"id": id, "name": "Widget"}


@app.route("/search")
def search(q: str = "", page: int = 1) -> list:
    """Search items by keyword."""
    return [q, page]


@app.post("/items")
@validate_request(body={"name": str, "price": float, "tags": Optional[list[str]]})  # noqa: UP045
def create_item() -> dict:
    """Create an item."""
    return {"created": True}


@app.put("/items/<id:int>")
def replace_item(id: int) -> dict:
    """Replace an item."""
    return {"id": id}


@app.delete("/items/<id:int>")
def delete_item(id: int) -> None:
    """Delete an item."""


@app.patch("/files/<p:path>")
async def touch_file(p: str) -> dict:
    """Touch a file (async handler)."""
    return {"path": p}


app.enable_docs()
