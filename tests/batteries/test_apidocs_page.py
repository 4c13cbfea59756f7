"""The /docs page's "try it out" forms, auth box and search, as served (WSGI and ASGI).

The browser side (sending from the page, showing the answer) is tested in headless
Chromium by tests/e2e/test_docs_page.py.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re

from lcore import Lcore, validate_request


@dataclasses.dataclass
class NewNote:
    title: str
    tags: list[str]
    done: bool = False


def _app() -> Lcore:
    app = Lcore()

    @app.get("/notes/<id:int>", tags=["notes"])
    def get_note(id: int, full: bool = False) -> dict:
        """Fetch a note."""
        return {"id": id}

    @app.post("/notes", status=201, security="bearer")
    @validate_request(body=NewNote)
    def create_note() -> dict:
        return {}

    @app.get("/files/<p:path>")
    def files(p: str) -> str:
        return p

    app.route("/any", "ANY", lambda: "x")
    app.enable_docs()
    return app


def _article(page: str, method: str, rule: str) -> str:
    m = re.search(
        rf'<article class="route" data-method="{method}" data-rule="{re.escape(html.escape(rule))}".*?</article>',
        page,
        re.S,
    )
    assert m, (method, rule)
    return m.group(0)


def test_try_it_out_forms(make_client):
    page = make_client(_app()).get("/docs").text
    get = _article(page, "GET", "/notes/<id:int>")
    assert '<form class="tryform" data-method="GET" data-path="/notes/{id}">' in get
    assert '<input name="id" data-in="path" value="" required>' in get
    assert '<input name="full" data-in="query" value="false">' in get  # the default, as JSON
    assert "<textarea" not in get  # a GET has no body
    assert '<span class="st s2"' in get and ">404 Not found</span>" in get
    assert 'data-search="get_note_get notes"' in get

    post = _article(page, "POST", "/notes")
    body = re.search(r'<textarea name="_body" spellcheck="false">(.*?)</textarea>', post, re.S)
    assert body and json.loads(html.unescape(body.group(1))) == {
        "title": "string",
        "tags": ["string"],
        "done": False,
    }
    assert "auth: bearerAuth" in post and ">201 Created</span>" in post

    files = _article(page, "GET", "/files/<p:path>")
    assert 'data-slash="1"' in files
    anything = _article(page, "ANY", "/any")
    assert '<select name="_method">' in anything


def test_auth_box_search_and_no_external_resource(make_client):
    page = make_client(_app()).get("/docs").text
    for needle in (
        'id="auth-kind"',
        '<option value="bearer">',
        '<option value="basic">',
        'id="auth-token"',
        'id="auth-user"',
        'id="auth-pass" type="password"',
        'id="filter"',
        '<script type="application/json" id="docs-config">{"path": "/docs"}</script>',
    ):
        assert needle in page, needle
    assert "fetch(url,opts)" in page and "credentials:'same-origin'" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert not re.search(r"https?://", page)
