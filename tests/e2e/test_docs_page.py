"""/docs "try it out" in headless Chromium (Playwright) against a real server.

The page (``apps/docs_page_app.py`` with ``enable_docs()``) is served by lcore's embedded
server (ASGI) and by gunicorn (WSGI). From the page itself the test fills path, query
and body fields, sets the auth box (Bearer, then Basic), presses "Send" and reads the
status, headers and body the page shows; the search box filters the routes. Every
request the browser makes goes to the serving origin (no CDN, no external fetch). A
PNG screenshot of "try it out" is saved in the test's tmp dir (its path is printed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .servers import serve

pytestmark = pytest.mark.e2e

SPEC = "docs_page_app:app"


def _route(page, method: str, rule: str):
    return page.locator(f'article.route[data-method="{method}"][data-rule="{rule}"]')


def _send(article, **fields: str):
    """Open the route's "try it out", fill ``fields`` (by input name), send, wait for the answer."""
    if not article.locator("details.try").evaluate("d => d.open"):
        article.locator("details.try > summary").click()
    for name, value in fields.items():
        article.locator(f'form.tryform [name="{name}"]').fill(value)
    line = article.locator(".result .line")
    article.locator("form.tryform button[type=submit]").click()
    # The line says "<method> <url> ..." while waiting, then starts with the status.
    line.filter(has_not_text=" ...").wait_for(timeout=10_000)
    return (
        line.text_content(),
        article.locator(".result .headers").text_content(),
        article.locator(".result .body").text_content(),
    )


@pytest.mark.parametrize("kind", ["lcore", "gunicorn-sync"])
def test_try_it_out_sends_from_the_page_and_shows_the_answer(
    browser, kind: str, tmp_path: Path
) -> None:
    with serve(kind, SPEC, tmp_path) as srv:
        page = browser.new_page(viewport={"width": 1200, "height": 1400})
        requested: list[str] = []
        page.on("request", lambda req: requested.append(req.url))
        try:
            page.goto(srv.url + "/docs")
            assert page.locator("article.route").count() == 6

            # a path parameter and JSON back: status, headers and the pretty body
            get_note = _route(page, "GET", "/notes/<id:int>")
            line, headers, body = _send(get_note, id="1")
            assert line.startswith("200") and "GET /notes/1" in line
            assert "content-type: application/json" in headers
            assert json.loads(body) == {"id": 1, "title": "Buy milk", "done": False}
            line, _headers, body = _send(get_note, id="99")
            assert line.startswith("404")
            assert json.loads(body)["error"] == "No such note"  # the page asks for JSON errors

            # a query parameter
            line, _headers, body = _send(_route(page, "GET", "/notes"), q="milk")
            assert line.startswith("200") and "/notes?q=milk" in line
            assert [n["title"] for n in json.loads(body)] == ["Buy milk"]

            # a JSON body, first without, then with the Bearer token from the auth box
            create = _route(page, "POST", "/notes")
            example = json.loads(create.locator('textarea[name="_body"]').input_value())
            assert example == {"title": "string", "done": False}  # built from the schema
            line, _headers, _body = _send(create, _body='{"title": "Write tests"}')
            assert line.startswith("401")
            page.select_option("#auth-kind", "bearer")
            page.fill("#auth-token", "tok")
            assert page.text_content("#auth-state") == "Bearer token set"
            line, headers, body = _send(create, _body='{"title": "Write tests"}')
            assert line.startswith("201")
            assert json.loads(body) == {"id": 2, "title": "Write tests", "done": False}
            line, _headers, body = _send(create, _body='{"done": true}')
            assert line.startswith("422") and json.loads(body)["error"] == "Validation failed"

            # Basic credentials from the auth box (a 401 with a Basic challenge would make
            # the browser ask for them itself, so only the answer with them is checked)
            whoami = _route(page, "GET", "/whoami")
            page.select_option("#auth-kind", "basic")
            page.fill("#auth-user", "ann")
            page.fill("#auth-pass", "pw")
            line, _headers, body = _send(whoami)
            assert line.startswith("200") and json.loads(body) == {"user": "ann"}

            # a path parameter that may hold slashes keeps them; other characters are escaped
            line, _headers, body = _send(_route(page, "GET", "/files/<p:path>"), p="a/b c.txt")
            assert line.startswith("200") and "/files/a/b%20c.txt" in line
            assert json.loads(body) == {"path": "a/b c.txt"}

            shot = tmp_path / "docs-try-it-out.png"
            create.scroll_into_view_if_needed()
            page.screenshot(path=str(shot), full_page=True)
            print(f"\n[{kind}] /docs try-it-out screenshot: {shot}")
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

            # the search box: words, tags/ids/statuses; '/' focuses it
            page.keyboard.press("Escape")
            page.locator("body").click(position={"x": 5, "y": 5})
            page.keyboard.press("/")
            assert page.evaluate("document.activeElement.id") == "filter"
            page.keyboard.type("notes note")
            assert page.locator("article.route:visible").count() == 3
            assert page.text_content("#count") == "3 of 6"
            page.fill("#filter", "bearerAuth")
            assert page.locator("article.route:visible").count() == 1
            page.fill("#filter", "nothing like this")
            assert page.locator("#none").is_visible()
        finally:
            page.close()
    assert requested and all(u.startswith(srv.url + "/") for u in requested), requested
