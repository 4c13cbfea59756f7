"""Hygiene: every test checks something, and no module grows past ~600 lines.

A test counts as checking when its body (nested functions included) has an ``assert``
statement, a ``raise AssertionError``, a ``pytest.raises`` / ``pytest.warns`` /
``pytest.fail`` / ``pytest.deprecated_call``, or a call to a helper whose name starts
with ``assert_``, ``check_`` or ``expect_`` (name a helper that asserts that way). The
few tests that check through other means are listed in ``ALLOWED`` with the reason.

A module of lcore, lcore_asgi or lcore_ws past ``MAX_LINES`` is asking to be split by
noun (docs STYLE: Starlette's small modules); the ones not split yet are in ``LARGE``,
each with a ceiling it may not pass.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

#: Prefixes of helpers that assert on the test's behalf.
HELPER_PREFIXES = ("assert_", "check_", "expect_")
#: ``pytest.<name>(...)`` calls that are checks.
PYTEST_CHECKS = frozenset({"raises", "warns", "fail", "deprecated_call"})

#: Tests with no assertion of their own, each with the reason that is fine.
ALLOWED = {
    "tests/batteries/test_docs_examples.py::test_doc_example_runs": "runs a documentation example; the example's own assert statements are the checks",
    "tests/behaviour/test_streaming.py::test_doc_example_runs": "runs a documentation example; the example's own assert statements are the checks",
    "tests/test_docs.py::test_doc_example_runs": "runs the python blocks of a docs page; the blocks' own assert statements are the checks",
}


#: Lines past which a module should be split.
MAX_LINES = 600
#: Modules over ``MAX_LINES`` not split yet: the most lines each may have meanwhile.
LARGE: dict[str, int] = {}
PACKAGES = ("lcore", "lcore_asgi", "lcore_ws")


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _is_check(node: ast.AST) -> bool:
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.Raise) and node.exc is not None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        return isinstance(exc, ast.Name) and exc.id == "AssertionError"
    if isinstance(node, ast.Call):
        name = _called_name(node)
        if name is None:
            return False
        if name.startswith(HELPER_PREFIXES):
            return True
        func = node.func
        return (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "pytest"
            and name in PYTEST_CHECKS
        )
    return False


def _test_functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Module-level ``test*`` functions and ``test*`` methods of ``Test*`` classes."""
    found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    for node in tree.body:
        candidates: list[ast.stmt] = [node]
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            candidates = node.body
        found += [
            fn
            for fn in candidates
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            and fn.name.startswith("test")
        ]
    return found


def unchecked_tests(path: Path) -> list[str]:
    """The names of the test functions in ``path`` that check nothing."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [fn.name for fn in _test_functions(tree) if not any(_is_check(n) for n in ast.walk(fn))]


def _all_unchecked() -> list[str]:
    out = []
    for path in sorted(TESTS.rglob("test*.py")):
        rel = path.relative_to(ROOT).as_posix()
        out += [f"{rel}::{name}" for name in unchecked_tests(path)]
    return out


def test_every_test_asserts_something() -> None:
    unchecked = [t for t in _all_unchecked() if t not in ALLOWED]
    assert not unchecked, (
        "tests that assert nothing (add an assert, name the helper that asserts "
        f"assert_/check_/expect_..., or list them in ALLOWED with the reason): {unchecked}"
    )


def test_allowed_entries_are_still_needed() -> None:
    unchecked = set(_all_unchecked())
    stale = [t for t in ALLOWED if t not in unchecked]
    assert not stale, f"these tests exist no more or assert now: take them off ALLOWED: {stale}"


def test_the_checker_tells_checks_from_their_absence(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "import pytest\n"
        "def test_bare(client):\n    client.get('/')\n"
        "async def test_bare_async():\n    await run()\n"
        "def test_called_helper_without_prefix():\n    _roundtrip()\n"
        "class TestGroup:\n    def test_method(self):\n        self.client.get('/')\n"
        "def helper_not_a_test():\n    pass\n"
        "def test_assert():\n    assert 1\n"
        "def test_raises():\n    with pytest.raises(ValueError):\n        int('x')\n"
        "def test_raise_assertion():\n    raise AssertionError('never')\n"
        "def test_helper():\n    check_roundtrip()\n"
        "def test_method_helper(c):\n    c.expect_close(1000)\n"
        "def test_nested():\n    async def main():\n        assert 1\n    run(main)\n"
        "class TestOk:\n    def test_ok(self):\n        pytest.fail('x')\n"
    )
    assert unchecked_tests(probe) == [
        "test_bare",
        "test_bare_async",
        "test_called_helper_without_prefix",
        "test_method",
    ]


def test_modules_stay_small() -> None:
    too_big = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > LARGE.get(rel, MAX_LINES):
                too_big[rel] = lines
    assert not too_big, (
        f"modules over {MAX_LINES} lines (or their LARGE ceiling): split them by noun: {too_big}"
    )
