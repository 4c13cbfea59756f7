"""Every public name has a docstring, as the API reference (mkdocstrings) reads it.

The reference pages in docs/reference/ are generated from docstrings by mkdocstrings,
which reads the source with griffe (statically). So this test asks griffe, not
``__doc__`` at run time: a module-level object such as ``lcore.request`` is documented
by the string literal that follows its assignment, and a function made by a factory
has no docstring griffe can see unless the assignment is followed by one.

Checked: every name in ``__all__`` of lcore, lcore_asgi and lcore_ws, and the public
methods and properties of the classes a user meets on every page (``Lcore``,
``BaseRequest``, ``BaseResponse``, ``RequestContext``, ``ConfigDict``, ``TestClient``,
``WebSocket``).
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

griffe = pytest.importorskip("griffe")

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lcore", "lcore_asgi", "lcore_ws")
MEMBERS_OF = (
    "lcore.Lcore",
    "lcore.BaseRequest",
    "lcore.BaseResponse",
    "lcore.RequestContext",
    "lcore.ConfigDict",
    "lcore.TestClient",
    "lcore_ws.WebSocket",
)


@pytest.fixture(scope="module")
def loader():
    return griffe.GriffeLoader(search_paths=[str(ROOT)])


def _static(loader, package: str, name: str):
    """The griffe object the reference page shows for ``package.name``."""
    module = (
        loader.modules_collection.get_member(package)
        if package in loader.modules_collection
        else loader.load(package)
    )
    value = getattr(importlib.import_module(package), name)
    try:
        obj = module[name]
        obj = obj.final_target if obj.is_alias else obj
        # ``lcore.request`` is both a submodule and the request proxy: griffe finds the
        # module; the name means the object, which is looked up where it is defined.
        if not (obj.is_module and not inspect.ismodule(value)):
            return obj
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        pass
    # Lazy names (module ``__getattr__``), and names a submodule shadows: find where the
    # run-time object is defined.
    if inspect.isclass(value) or inspect.isroutine(value):
        where, qualname = value.__module__, value.__qualname__
    else:  # an instance (the request proxy, the app stack): defined beside its class
        where, qualname = type(value).__module__, name
    assert where, f"{package}.{name}: cannot tell where it is defined"
    target = loader.load(where.split(".")[0])
    obj = target[f"{where.partition('.')[2]}.{qualname}".lstrip(".")]
    return obj.final_target if obj.is_alias else obj


def _public_names():
    for package in PACKAGES:
        for name in importlib.import_module(package).__all__:
            yield pytest.param(package, name, id=f"{package}.{name}")


@pytest.mark.parametrize(("package", "name"), list(_public_names()))
def test_public_name_has_docstring(loader, package: str, name: str) -> None:
    obj = _static(loader, package, name)
    doc = obj.docstring.value.strip() if obj.docstring else ""
    assert doc, (
        f"{package}.{name} ({obj.path}) has no docstring: the API reference would "
        "show it bare. Add one (for a module-level object: a string literal on the "
        "line after the assignment)."
    )
    # STYLE.md: one summary line ending in a period.
    first = doc.splitlines()[0].rstrip()
    assert first.endswith((".", ".)", ":")) or len(doc.splitlines()) > 1, (
        f"{package}.{name}: the summary line should end with a period: {first!r}"
    )


@pytest.mark.parametrize("path", MEMBERS_OF)
def test_core_class_members_have_docstrings(loader, path: str) -> None:
    package, _, name = path.partition(".")
    cls = _static(loader, package, name)
    bare = []
    for member_name, member in cls.all_members.items():
        if member_name.startswith("_"):
            continue
        try:
            target = member.final_target if member.is_alias else member
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            continue
        if (target.is_function or "property" in target.labels) and not target.docstring:
            bare.append(member_name)
    assert not bare, f"{path}: public members without a docstring: {', '.join(sorted(bare))}"


def test_the_check_sees_a_missing_docstring(loader, tmp_path: Path) -> None:
    """The check itself: a module-level object and a class with no docstring are caught."""
    (tmp_path / "undocumented_pkg.py").write_text(
        '__all__ = ["Thing", "documented", "bare"]\n'
        "class Thing:\n    pass\n"
        "documented = 1\n"
        '"""A documented constant."""\n'
        "bare = 2\n"
    )
    mod = griffe.GriffeLoader(search_paths=[str(tmp_path)]).load("undocumented_pkg")
    assert mod["documented"].docstring.value == "A documented constant."
    assert mod["Thing"].docstring is None and mod["bare"].docstring is None
