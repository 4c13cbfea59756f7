"""mkdocs hook: show the Sphinx roles of lcore's docstrings as plain code in the site.

The docstrings cross-reference with ``:class:`Name``` and friends (read by IDEs and by
``help()``); mkdocstrings renders them as the role's text followed by inline code. This
keeps the code and drops the role, and ``~a.b.Name`` (Sphinx: show the last part) shows
``Name``.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj|const|ref):(<code>)")
_TILDE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj|const|ref):<code>~((?:\w+\.)*)(\w+)</code>")


def on_page_content(html: str, **kwargs: Any) -> str:
    """Drop the role prefix before inline code; ``~a.b.C`` becomes ``C``."""
    html = _TILDE.sub(r"<code>\2</code>", html)
    return _ROLE.sub(r"\1", html)
