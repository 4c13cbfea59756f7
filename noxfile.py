"""The test matrix: the fast, server-free suite on every supported CPython.

``.ci/run`` runs the whole suite on the main interpreter and this file's ``fast``
session on each other supported version it finds (``nox -s fast``). The fast part is
the dual-protocol behaviour suite, the core and adapter tests and the architecture and
export checks: no server process, no Redis, no browser.
"""

from __future__ import annotations

import nox

# Keep in step with the classifiers in pyproject.toml: these are the versions tested.
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

FAST_TESTS = [
    "tests/behaviour",
    "tests/core",
    "tests/adapters",
    "tests/test_architecture.py",
    "tests/test_exports.py",
]

nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = False


@nox.session(python=PYTHONS)
def fast(session: nox.Session) -> None:
    """The server-free part of the suite on one interpreter."""
    session.install("-q", ".[test-fast]")
    session.run(
        "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *FAST_TESTS, *session.posargs
    )
