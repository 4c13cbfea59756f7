"""TaskFlow in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

Two browser sessions open the same Kanban board; the admin creates a task in one, and it
appears in both: in the creator's board at once, and in the other session through the
live-updates stream (SSE), with no reload. Screenshots are saved in the test's tmp dir
and their paths printed (``pytest -s`` shows them).

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``) and ``pip install
playwright``; never ``playwright install``: the system browser is used.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

try:
    from e2e.servers import serve
except ImportError:  # pytest's importlib mode does not put tests/ on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from e2e.servers import serve

pytestmark = pytest.mark.e2e

SPEC = "examples.taskflow.app:app"


def login(page, base_url: str, username: str) -> None:
    page.goto(base_url + "/frontend")
    page.click(f'button[data-action="fill-login"][data-username="{username}"]')
    page.click("#login-submit")
    page.wait_for_selector("#app-view:not([hidden])")
    page.wait_for_selector(".stats")  # the dashboard rendered from the API


@pytest.mark.parametrize("kind", ["lcore", "gunicorn-gthread"])
def test_create_task_on_kanban_board(browser, kind, tmp_path):
    env = {
        "APP_DB_PATH": str(tmp_path / "taskflow.db"),
        "APP_UPLOAD_DIR": str(tmp_path / "uploads"),
        "APP_SECRET_KEY": "browser-" + uuid.uuid4().hex,
        "APP_DEBUG": "true",
        "TASKFLOW_REDIS_URL": "",
    }
    shots: list[Path] = []

    def shot(page, name: str) -> None:
        path = tmp_path / f"{kind}-{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    with serve(kind, SPEC, tmp_path, env=env) as srv:
        admin_ctx, alice_ctx = browser.new_context(), browser.new_context()
        try:
            admin, alice = admin_ctx.new_page(), alice_ctx.new_page()
            errors: list[str] = []
            for page in (admin, alice):
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.set_default_timeout(15_000)

            # log in through the frontend (demo-credential quick fill)
            login(admin, srv.url, "admin")
            assert admin.text_content("#whoami") == "admin (admin)"
            shot(admin, "dashboard")
            login(alice, srv.url, "alice")

            # both open the Kanban board of project 1; alice's board listens for live updates
            for page in (admin, alice):
                page.goto(srv.url + "/frontend#/projects/1")
                page.wait_for_selector(".board .column[data-status=todo]")
            alice.wait_for_selector(".live-status.on")
            shot(alice, "board-before")

            # the admin creates a task through the modal form
            title = "Browser task " + uuid.uuid4().hex[:6]
            admin.click("#new-task-btn")
            admin.wait_for_selector("#modal:not([hidden])")
            admin.fill("#task-title", title)
            admin.select_option("select[name=priority]", "high")
            admin.select_option("select[name=assignee_id]", label="alice")
            shot(admin, "new-task-modal")
            admin.click("#modal-submit")

            card = f'.column[data-status=todo] .task-title:text("{title}")'
            admin.wait_for_selector(card)
            shot(admin, "board-after")
            alice.wait_for_selector(card)  # pushed to the other session, no reload
            assert "task created by admin" in alice.text_content("#live-status")
            shot(alice, "board-live-update")

            assert admin.locator(card).count() == 1
            assert not errors, errors
        finally:
            admin_ctx.close()
            alice_ctx.close()
    for path in shots:
        assert path.stat().st_size > 1000
        print(f"screenshot: {path}")


MOBILE = {"width": 390, "height": 844}
# No horizontal scroll at 390 px: the document is no wider than the screen. (Compared with
# the screen width, not innerWidth: a mobile browser widens its layout viewport to fit
# content that overflows, so innerWidth grows with the very overflow we look for.)
_OVERFLOW_JS = """(width) => {
    const wide = [...document.querySelectorAll('body *')]
        .filter(el => el.getClientRects().length && el.getBoundingClientRect().right > width + 1)
        .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''));
    return {scroll: document.documentElement.scrollWidth, width, inner: window.innerWidth, wide: wide.slice(0, 8)};
}"""


def test_mobile_width_has_no_horizontal_scroll(browser, tmp_path):
    """At 390 px (a phone): every page fits the width, the sidebar collapses behind a menu
    button that opens it, and the pages carry a favicon the server serves."""
    env = {
        "APP_DB_PATH": str(tmp_path / "taskflow.db"),
        "APP_UPLOAD_DIR": str(tmp_path / "uploads"),
        "APP_SECRET_KEY": "mobile-" + uuid.uuid4().hex,
        "TASKFLOW_REDIS_URL": "",
    }
    shots: list[Path] = []
    with serve("lcore", SPEC, tmp_path, env=env) as srv:
        context = browser.new_context(
            viewport=MOBILE, device_scale_factor=1, is_mobile=True, has_touch=True
        )
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            def check(name: str) -> None:
                page.wait_for_timeout(150)  # let the layout settle after a render
                result = page.evaluate(_OVERFLOW_JS, MOBILE["width"])
                path = tmp_path / f"mobile-{len(shots) + 1:02d}-{name}.png"
                page.screenshot(path=str(path), full_page=True)
                shots.append(path)
                assert result["scroll"] <= result["width"] and result["inner"] == result["width"], (
                    f"{name}: horizontal scroll at 390 px: {result}"
                )

            for url, name in (("/", "welcome"), ("/live", "live")):
                page.goto(srv.url + url)
                check(name)

            login(page, srv.url, "admin")
            # collapsed: the menu button shows, the section links do not, until it is pressed
            menu = page.locator(".nav-toggle-btn")
            assert menu.is_visible()
            assert not page.locator('.sidebar a[data-nav="team"]').is_visible()
            check("dashboard")
            menu.click()
            page.wait_for_selector('.sidebar a[data-nav="team"]', state="visible")
            check("menu-open")
            page.click('.sidebar a[data-nav="team"]')
            page.wait_for_selector(
                '.sidebar a[data-nav="team"]', state="hidden"
            )  # closes after a pick
            check("team")
            for route, name in (
                ("#/projects", "projects"),
                ("#/projects/1", "board"),
                ("#/notifications", "notifications"),
                ("#/profile", "profile"),
            ):
                page.goto(srv.url + "/frontend" + route)
                page.wait_for_selector("#content > *")
                check(name)
            page.goto(srv.url + "/frontend#/projects/1")
            page.wait_for_selector(".board .column[data-status=todo]")
            page.click("#new-task-btn")
            page.wait_for_selector("#modal:not([hidden])")
            check("new-task-modal")

            icon = page.get_attribute('link[rel="icon"]', "href")
            assert icon, "no favicon link"
            r = page.request.get(srv.url + icon)
            assert r.status == 200 and r.headers["content-type"].startswith("image/"), (
                icon,
                r.status,
            )
            assert not errors, errors
        finally:
            context.close()
    for path in shots:
        assert path.stat().st_size > 1000
        print(f"mobile screenshot: {path}")
