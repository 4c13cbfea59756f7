"""The distribution: ``python -m build`` makes an sdist and a wheel that ``twine check``
accepts, that carry ``py.typed`` for the three packages and every non-Python file they
hold (templates, static assets), and the wheel installs into a fresh virtual environment
where all three packages import and serve a request.

The build runs on a copy of the source (so the work tree gets no build/ or dist/), and the
venv imports lcore from its own site-packages, never from this checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lcore", "lcore_asgi", "lcore_ws")

SMOKE = r"""
import importlib.resources, io, json, sys
from wsgiref.util import setup_testing_defaults
import lcore, lcore_asgi, lcore_ws
from lcore import Lcore

here = sys.prefix
for pkg in (lcore, lcore_asgi, lcore_ws):
    assert pkg.__file__.startswith(here), (pkg.__name__, pkg.__file__, here)
    assert importlib.resources.files(pkg.__name__).joinpath("py.typed").is_file(), pkg.__name__

app = Lcore()

@app.route("/hello/<name>")
def hello(name):
    return {"hello": name}

env = {"PATH_INFO": "/hello/wheel"}
setup_testing_defaults(env)
seen = []
body = b"".join(app(env, lambda status, headers, exc_info=None: seen.append(status)))
assert seen == ["200 OK"] and json.loads(body) == {"hello": "wheel"}, (seen, body)
from lcore_asgi import ASGIAdapter, Config, Server
from lcore_ws import Broadcast, WebSocket
print("ok", lcore.__version__)
"""


def _package_files(root: Path) -> set[str]:
    """Every non-Python file of the three packages in a source tree, as wheel paths."""
    found = set()
    for pkg in PACKAGES:
        for path in (root / pkg).rglob("*"):
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and path.suffix not in (".py", ".pyc")
            ):
                found.add(path.relative_to(root).as_posix())
    return found


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


@pytest.mark.e2e
def test_build_check_and_install_in_fresh_venv(tmp_path: Path) -> None:
    pytest.importorskip("build")
    pytest.importorskip("twine")
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    extras = _package_files(src)
    assert {f"{pkg}/py.typed" for pkg in PACKAGES} <= extras

    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(src)], cwd=tmp_path, timeout=180
    )
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    out = _run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], cwd=tmp_path
    )
    assert out.count("PASSED") == 2, out

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = zf.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    assert extras <= names, f"missing from the wheel: {sorted(extras - names)}"
    assert not [n for n in names if n.startswith(("tests/", "examples/", "bench/", "docs/"))]
    for extra in ("all", "server", "standard", "ws", "redis", "client", "templates", "docs"):
        assert f"Provides-Extra: {extra}" in metadata, extra
    assert "lcore = lcore.__main__:main" in entry_points
    with tarfile.open(sdist) as tf:
        top = tf.getnames()[0].split("/")[0]
        in_sdist = {n.partition("/")[2] for n in tf.getnames()}
    assert {f"{p}" for p in extras} <= in_sdist, (
        f"missing from the sdist ({top}): {sorted(extras - in_sdist)}"
    )

    # A fresh venv: the wheel and its four core dependencies, nothing from this checkout.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    py = venv / "bin" / "python"
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    _run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        cwd=tmp_path,
        env=env,
        timeout=180,
    )
    out = _run([str(py), "-c", SMOKE], cwd=tmp_path, env=env)
    assert out.startswith("ok "), out
    version = _run([str(venv / "bin" / "lcore"), "--version"], cwd=tmp_path, env=env)
    assert version.strip(), "the lcore console script printed nothing"
    print(
        f"\nwheel {wheel.name}: {len(names)} files; sdist {sdist.name}; installed and imported in {venv}"
    )


def _extras() -> dict[str, list[str]]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def test_every_extra_named_in_an_error_exists_and_all_covers_it() -> None:
    """``pip install "lcore[x]"`` in a missing-package message names a real extra, and
    ``all`` brings every package such an extra brings."""
    from lcore._extras import EXTRAS

    extras = _extras()
    named = {extra for extra in EXTRAS.values() if extra}
    assert named - extras.keys() == set(), "error messages name extras pyproject does not define"

    def base(req: str) -> str:
        return req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip().lower()

    in_all = {base(r) for r in extras["all"]}
    for extra in sorted(named | {"standard"}):
        missing = {base(r) for r in extras[extra]} - in_all
        assert not missing, f"lcore[all] lacks what lcore[{extra}] brings: {missing}"


def test_install_page_lists_every_extra() -> None:
    page = (ROOT / "docs" / "install.md").read_text()
    for extra in _extras():
        if extra in ("test-fast", "bench"):
            continue
        assert f"| `{extra}` |" in page, f"docs/install.md does not describe the {extra!r} extra"
