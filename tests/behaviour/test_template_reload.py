"""Debug mode reloads edited template files; without it the compiled template is kept.

``lcore.debug(True)`` (the global switch) and an app's own ``debug`` config both make a
template file that changed on disk show its new content on the next request, under
both protocols, from ``def`` and ``async def`` handlers alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import lcore
from lcore import Lcore, template, view
from lcore.templates import TEMPLATES


@pytest.fixture
def views(tmp_path: Path) -> Iterator[Path]:
    """A template directory of its own; the global switch and the cache restored after."""
    saved_cache = dict(TEMPLATES)
    lcore.default_app.push()  # lcore.debug() acts on the default app: use a fresh one
    try:
        yield tmp_path
    finally:
        lcore.DEBUG = False
        lcore.default_app.pop()
        TEMPLATES.clear()
        TEMPLATES.update(saved_cache)


def _app(views: Path, **config: object) -> Lcore:
    app = Lcore(**config)
    lookup = [str(views)]

    @app.get("/sync")
    def sync_page() -> str:
        return template("page", template_lookup=lookup, who="sync")

    @app.get("/async")
    @view("page")
    async def async_page() -> dict[str, str]:
        return {"who": "async"}

    return app


def _render_twice(make_client, app: Lcore, views: Path, path: str) -> tuple[str, str]:
    page = views / "page.tpl"
    page.write_text("v1 {{who}}")
    client = make_client(app)
    first = client.get(path).text
    page.write_text("v2 {{who}}")
    return first, client.get(path).text


@pytest.fixture
def on_path(views: Path) -> Iterator[None]:
    """Put ``views`` on ``TEMPLATE_PATH`` (the ``@view`` route looks templates up there)."""
    lcore.TEMPLATE_PATH.insert(0, str(views))
    try:
        yield
    finally:
        lcore.TEMPLATE_PATH.remove(str(views))


@pytest.mark.parametrize("path", ["/sync", "/async"])
def test_global_debug_reloads_edited_template(make_client, views, on_path, path):
    lcore.debug(True)
    assert lcore.templates.DEBUG is False  # the template cache asks, nothing is copied
    who = path.strip("/")
    assert _render_twice(make_client, _app(views), views, path) == (f"v1 {who}", f"v2 {who}")


@pytest.mark.parametrize("path", ["/sync", "/async"])
def test_without_debug_the_compiled_template_is_kept(make_client, views, on_path, path):
    lcore.debug(False)
    who = path.strip("/")
    assert _render_twice(make_client, _app(views), views, path) == (f"v1 {who}", f"v1 {who}")


def test_app_debug_config_reloads_for_that_app_only(make_client, views, on_path):
    debug_app, plain_app = _app(views, debug=True), _app(views)
    assert _render_twice(make_client, debug_app, views, "/sync") == ("v1 sync", "v2 sync")
    TEMPLATES.clear()
    assert _render_twice(make_client, plain_app, views, "/sync") == ("v1 sync", "v1 sync")
