"""Tests for lcore.security.passwords."""

from __future__ import annotations

import hashlib
import re

import pytest

from lcore.security.passwords import (
    DEFAULT_ITERATIONS,
    MAX_ITERATIONS,
    hash_password,
    verify_password,
)

FORMAT = re.compile(r"^pbkdf2:sha256:(\d+)\$([0-9a-f]{64})\$([0-9a-f]{64})$")


def test_format_and_round_trip():
    h = hash_password("s3cret", iterations=1000)
    m = FORMAT.match(h)
    assert m, h
    assert m.group(1) == "1000"
    assert verify_password("s3cret", h)
    assert not verify_password("s3cret ", h)
    assert not verify_password("", h)


def test_default_iterations_round_trip():
    h = hash_password("correct horse")
    assert h.startswith(f"pbkdf2:sha256:{DEFAULT_ITERATIONS}$")
    assert DEFAULT_ITERATIONS == 600_000
    assert verify_password("correct horse", h)
    assert not verify_password("correct horsE", h)


def test_salt_is_random():
    a, b = hash_password("x", iterations=10), hash_password("x", iterations=10)
    assert a != b
    assert a.split("$")[1] != b.split("$")[1]


def test_unicode_password():
    h = hash_password("pässwörd-\u2603", iterations=50)
    assert verify_password("pässwörd-\u2603", h)
    assert not verify_password("passwörd-\u2603", h)


def test_known_vector_compatible_with_old_format():
    # Hashes written by earlier Lcore releases: raw salt bytes, UTF-8 password.
    salt = bytes(range(32))
    dk = hashlib.pbkdf2_hmac("sha256", b"hunter2", salt, 5)
    stored = f"pbkdf2:sha256:5${salt.hex()}${dk.hex()}"
    assert verify_password("hunter2", stored)
    assert verify_password("hunter2", stored.upper().replace("PBKDF2:SHA256", "pbkdf2:sha256"))
    assert not verify_password("hunter3", stored)


def test_sha512_hashes_verify():
    salt = b"s" * 32
    dk = hashlib.pbkdf2_hmac("sha512", b"pw", salt, 3)
    assert verify_password("pw", f"pbkdf2:sha512:3${salt.hex()}${dk.hex()}")


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "",
        "garbage",
        "pbkdf2:sha256:1000",
        "pbkdf2:sha256:1000$abcd",
        "pbkdf2:sha256:1000$$abcd",
        "pbkdf2:sha256:1000$abcd$",
        "pbkdf2:sha256:abc$abcd$abcd",
        "pbkdf2:sha256:-5$abcd$abcd",
        "pbkdf2:sha256:0$abcd$abcd",
        "pbkdf2:sha256:1e3$abcd$abcd",
        "pbkdf2:sha256:\u0661\u0660$abcd$abcd",  # Arabic-Indic digits
        f"pbkdf2:sha256:{MAX_ITERATIONS + 1}$abcd$abcd",
        "pbkdf2:sha256:99999999999999999999$abcd$abcd",
        "pbkdf2:md5:10$abcd$abcd",
        "pbkdf2:whirlpool:10$abcd$abcd",
        "bcrypt:sha256:10$abcd$abcd",
        "pbkdf2:sha256:10$zz$abcd",
        "pbkdf2:sha256:10$abc$abcd",
        "pbkdf2:sha256:10$abcd$ab$cd",
        "pbkdf2:sha256:extra:10$abcd$abcd",
        "pbkdf2:sha256:10$" + "ab" * 5000 + "$abcd",
        b"pbkdf2:sha256:10$abcd$abcd",
        12345,
        ["pbkdf2:sha256:10$abcd$abcd"],
    ],
)
def test_malformed_hashes_are_false(bad):
    assert verify_password("pw", bad) is False


def test_wrong_password_types_are_false():
    h = hash_password("pw", iterations=10)
    assert verify_password(None, h) is False
    assert verify_password(b"pw", h) is False
    assert verify_password(123, h) is False
    assert verify_password("\ud800", h) is False


def test_truncated_digest_is_false():
    h = hash_password("pw", iterations=10)
    assert verify_password("pw", h[:-2]) is False
    head, salt, dk = h.split("$")
    assert verify_password("pw", f"{head}${salt}${dk[:2]}") is False


def test_hash_password_rejects_bad_arguments():
    with pytest.raises(TypeError):
        hash_password(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hash_password(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        hash_password("x", iterations=0)
    with pytest.raises(ValueError):
        hash_password("x", iterations=MAX_ITERATIONS + 1)
    with pytest.raises(TypeError):
        hash_password("x", iterations="1000")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hash_password("x", iterations=True)  # type: ignore[arg-type]
