"""Management commands (``lcore.commands``): ``routes``, ``check`` and ``@app.command()``.

The library functions are tested in-process; the command lines run as real processes.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Literal, Optional

import pytest

from lcore import CSRFMiddleware, Lcore, RequestIDMiddleware, TimeoutMiddleware
from lcore.commands import Command, check, command, commands, route_rows, run_command

ROOT = Path(__file__).resolve().parents[2]


# -- @app.command(): arguments from the signature --------------------------------------------


def test_arguments_come_from_the_signature(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[tuple[object, ...]] = []

    def create_user(
        email: str,
        age: int,
        admin: bool = False,
        cache: bool = True,
        quota: Optional[float] = None,  # noqa: UP045 - the typing spelling is what is tested
        role: Literal["user", "staff"] = "user",
        *tags: str,
        ids: list[int] | None = None,
    ) -> int:
        """Create a user account.

        More words for --help.
        """
        seen.append((email, age, admin, cache, quota, role, tags, ids))
        return 3

    cmd = Command(create_user)
    assert cmd.name == "create-user" and cmd.help == "Create a user account."
    assert (
        cmd.run(
            [
                "ann@x",
                "41",
                "t1",
                "--admin",
                "--no-cache",
                "--quota",
                "1.5",
                "t2",
                "--role",
                "staff",
                "--ids",
                "1",
                "2",
            ]
        )
        == 3
    )
    assert seen[-1] == ("ann@x", 41, True, False, 1.5, "staff", ("t1", "t2"), [1, 2])
    assert cmd.run(["bob", "7"]) == 3
    assert seen[-1] == ("bob", 7, False, True, None, "user", (), None)
    for bad in (["bob"], ["bob", "seven"], ["bob", "7", "--role", "boss"], ["bob", "7", "--nope"]):
        with pytest.raises(SystemExit) as info:
            cmd.run(bad)
        assert info.value.code == 2
    err = capsys.readouterr().err
    assert "the following arguments are required: AGE" in err
    assert "argument AGE: invalid int value: 'seven'" in err
    assert "invalid choice: 'boss'" in err
    with pytest.raises(SystemExit):
        cmd.run(["--help"])
    out = capsys.readouterr().out
    assert "More words for --help." in out and "--no-cache" in out and "--admin" in out


def test_return_values_and_async_commands(capsys: pytest.CaptureFixture[str]) -> None:
    app = Lcore()

    @command(app)
    def nothing() -> None:
        """Do nothing."""

    @command(app, "fail")
    def failing() -> bool:
        return False

    @command(app, help="print a document")
    async def report(n: int = 2) -> dict[str, int]:
        import asyncio

        await asyncio.sleep(0)
        return {"n": n}

    @command(app)
    def greet(*, name: str) -> str:
        return f"hello {name}"

    assert sorted(commands(app)) == ["fail", "greet", "nothing", "report"]
    assert commands(app)["report"].help == "print a document"
    assert run_command(app, "myapp:app", "nothing", []) == 0
    assert run_command(app, "myapp:app", "fail", []) == 1
    assert run_command(app, "myapp:app", "report", ["--n", "5"]) == 0
    assert run_command(app, "myapp:app", "greet", ["--name", "Ann"]) == 0
    assert capsys.readouterr().out == '{"n":5}\nhello Ann\n'
    assert run_command(app, "myapp:app", "nope", []) == 2
    assert capsys.readouterr().err == (
        "error: 'myapp:app' has no command 'nope'; its commands: fail, greet, nothing, report\n"
    )


def test_registration_errors() -> None:
    app = Lcore()
    with pytest.raises(ValueError, match="not allowed"):
        command(app, "routes")(lambda: None)
    with pytest.raises(TypeError, match=r"\*\*options cannot be filled from the command line"):
        command(app, "x")(lambda **options: None)

    def first() -> None: ...

    def second() -> None: ...

    command(app, "same")(first)
    with pytest.raises(ValueError, match="already registered"):
        command(app, "same")(second)


# -- routes ------------------------------------------------------------------------------------


def test_route_rows() -> None:
    app = Lcore()
    app.use(RequestIDMiddleware())
    app.use(TimeoutMiddleware(5), routes=r"^/slow")

    @app.get("/", name="home")
    def index() -> str:
        return ""

    @app.post("/slow/<n:int>")
    async def slow(n: int) -> str:
        return ""

    child = Lcore()
    child.use(CSRFMiddleware(secret="s" * 32))

    @child.get("/items")
    def items() -> list[int]:
        return []

    app.mount("/api", child)

    rows = {(r["method"], r["rule"]): r for r in route_rows(app)}
    here = __name__
    assert rows["GET", "/"] == {
        "method": "GET",
        "rule": "/",
        "name": "home",
        "handler": f"{here}.test_route_rows.<locals>.index",
        "kind": "sync",
        "middleware": ["request_id"],
    }
    assert rows["POST", "/slow/<n:int>"]["kind"] == "async"
    assert rows["POST", "/slow/<n:int>"]["middleware"] == ["timeout", "request_id"]
    assert rows["GET", "/api/items"]["middleware"] == ["request_id", "csrf"]
    assert len(rows) == 3


# -- check -------------------------------------------------------------------------------------


def test_a_clean_app_has_no_problems() -> None:
    app = Lcore()
    app.route("/<name>", callback=lambda name: name)
    app.inject("db", dict)
    report = check(app)
    assert report.ok and report.problems == []
    assert (
        report.render()
        == "1 route, 0 WebSocket routes, 0 middleware, 1 dependency\nno problems found"
    )


@dataclasses.dataclass
class Settings:
    db_url: str
    workers: int = 2


def test_check_finds_problems() -> None:
    app = Lcore()
    app.config["workers"] = "many"
    app.config_schema = Settings  # type: ignore[attr-defined]
    app.use(CSRFMiddleware(secret="s" * 32))
    app.inject("csrf_token", lambda: "mine")
    app.dependencies.register("request", dict)  # past inject()'s own check

    @app.get("/a/<x>", name="dup")
    def a() -> str:
        return ""

    app.route("/b", name="dup", callback=lambda: "")
    app.route("/c", callback=lambda: "")
    app.route("/c", callback=lambda: "")

    @app.websocket("/ws")
    async def ws(sock: object) -> None: ...

    child = Lcore()
    child.inject("db", list)
    app.inject("db", dict)
    app.mount("/api", child)

    report = check(app, wsgi_only=True)
    problems = "\n".join(report.problems)
    assert "config: Missing required config key: db_url (or db.url)" in problems
    assert "config: Config key workers: " in problems
    assert "WebSocket routes (/ws) cannot be served by a WSGI server" in problems
    assert "dependency 'csrf_token': CSRFMiddleware sets ctx.csrf_token" in problems
    assert "dependency 'request': ctx.request is a built-in RequestContext attribute" in problems
    assert "dependency 'db' is registered by the app and by the app mounted at /api" in problems
    assert (
        f"route GET /a/<x>: the handler {__name__}.test_check_finds_problems.<locals>.a() "
        "does not accept the URL argument x" in problems
    )
    assert "route GET /c is registered 2 times" in problems
    assert "route name 'dup' is used by 2 rules (/a/<x>, /b)" in problems
    assert len(report.problems) == 9, problems
    assert not report.ok and report.render().endswith("9 problems found")
    # without --wsgi, WebSocket routes are advice, not a problem
    assert not any("WebSocket" in p for p in check(app).problems)
    assert any("WebSocket routes (/ws) need an ASGI server" in n for n in check(app).notes)


# -- the command lines -------------------------------------------------------------------------

APP = textwrap.dedent(
    """
    from lcore import Lcore, RequestIDMiddleware

    app = Lcore()
    app.use(RequestIDMiddleware())

    @app.route("/hello/<name>", name="hello")
    async def hello(name):
        return name

    @app.route("/broken/<x>")
    def broken():
        return ""

    @app.command()
    def add(a: int, b: int, verbose: bool = False):
        '''Add two numbers.'''
        print(a + b, app.config.get("unit", ""), "verbose" if verbose else "")
        return 0 if a + b < 100 else 5

    @app.command
    def ping():
        print("pong")

    def handler(request):
        return "not an app"
    """
)


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "lcore", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "myapp.py").write_text(APP)
    return tmp_path


def test_cli_routes_check_and_app_commands(project: Path) -> None:
    r = _run(project, "routes", "myapp:app")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "METHOD  RULE           NAME   HANDLER       KIND   MIDDLEWARE",
        "GET     /hello/<name>  hello  myapp.hello   async  request_id",
        "GET     /broken/<x>    -      myapp.broken  sync   request_id",
    ]
    r = _run(project, "check", "myapp:app")
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "myapp:app: 2 routes, 0 WebSocket routes, 1 middleware, 0 dependencies",
        "problem: route GET /broken/<x>: the handler myapp.broken() does not accept the URL "
        "argument x; every request to it would fail",
        "1 problem found",
    ]
    r = _run(project, "-C", "unit=apples", "myapp:app", "add", "2", "3", "--verbose")
    assert (r.returncode, r.stdout) == (0, "5 apples verbose\n"), r.stderr
    assert _run(project, "myapp:app", "add", "60", "70").returncode == 5
    r = _run(project, "myapp:app", "sub", "1")
    assert (r.returncode, r.stderr) == (
        2,
        "error: 'myapp:app' has no command 'sub'; its commands: add, ping\n",
    )
    assert _run(project, "myapp:app", "ping").stdout == "pong\n"
    r = _run(project, "routes", "myapp:handler")
    assert (r.returncode, r.stderr) == (
        2,
        "error: 'myapp:handler' is the function handler(request), not an Lcore app: "
        "'routes' reads an Lcore() app's routes\n",
    )
