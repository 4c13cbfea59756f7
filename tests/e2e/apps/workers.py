"""For the apps served by several worker processes: which worker answered, and /health."""

from __future__ import annotations

import os

from lcore import Lcore, response


def tag_workers(app: Lcore) -> None:
    """Add ``X-Worker: <pid>`` to every response, and ``GET /health``."""

    @app.hook("on_response_send")
    def tag_worker():
        response.set_header("X-Worker", str(os.getpid()))

    @app.route("/health")
    def health():
        return {"ok": True}
