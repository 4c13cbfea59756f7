"""lcore._utils: the JSON depth limit for client input (request.json)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lcore._utils import _json_loads_limited, _json_too_deep, _JSONTooDeep


def _depth(value):
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


# Strings full of what could fool a scan: brackets, quotes, backslashes, non-ASCII.
_tricky_text = st.text(alphabet='[]{}"\\ab\u00e9\u20ac\U0001f600\n', max_size=6)
_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | _tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_tricky_text, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(_documents, st.booleans(), st.sampled_from(["utf-8", "utf-16", "utf-32-le", "str"]))
def test_depth_matches_the_parsed_document(doc, ascii_only, encoding):
    text = json.dumps(doc, ensure_ascii=ascii_only)
    data = text if encoding == "str" else text.encode(encoding)
    depth = _depth(doc)
    for limit in range(max(depth - 2, 0), depth + 2):
        assert _json_too_deep(data, limit) is (depth > limit), (text, limit, depth)


@pytest.mark.parametrize(
    ("text", "limit", "too_deep"),
    [
        ("[]", 0, True),
        ("[]", 1, False),
        ("[[][[]]]", 2, True),
        ("[[][[]]]", 3, False),
        ('["[[[", "]]]]]", [[]]]', 2, True),  # the strings' brackets do not count
        ('["[[[", "]]]]]", [[]]]', 3, False),
        ('["\\"[[", [[]]]', 3, False),  # an escaped quote does not end the string
        ("[" * 100_000, 128, True),  # unclosed: invalid, and as deep as it is long
        ('"' + "[" * 1000 + '"', 128, False),
    ],
)
def test_depth_cases(text, limit, too_deep):
    assert _json_too_deep(text, limit) is too_deep
    assert _json_too_deep(text.encode(), limit) is too_deep


def test_loads_limited():
    assert _json_loads_limited(b"[" * 128 + b"]" * 128, 128) == json.loads("[" * 128 + "]" * 128)
    for hostile in (b"[" * 129 + b"]" * 129, b"[" * 100_000, b'{"a":' * 50_000):
        with pytest.raises(_JSONTooDeep, match="nested more than 128 deep"):
            _json_loads_limited(hostile, 128)
    # A limit above what the decoder can take: its RecursionError is a ValueError too.
    with pytest.raises(_JSONTooDeep, match="too deep to parse"):
        _json_loads_limited(b"[" * 100_000 + b"]" * 100_000, 10**9)
    with pytest.raises(ValueError):
        _json_loads_limited(b"[1,", 128)
