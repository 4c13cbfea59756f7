"""Password hashing with PBKDF2-HMAC (stdlib only).

Hashes are stored as ``pbkdf2:<digest>:<iterations>$<salt hex>$<hash hex>``; the salt
is 32 random bytes and the password is UTF-8 encoded. This is the format earlier Lcore
releases wrote, so stored hashes keep verifying after an upgrade.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["hash_password", "verify_password", "DEFAULT_ITERATIONS", "MAX_ITERATIONS"]

#: Iteration count used by :func:`hash_password` (OWASP 2023 guidance for SHA-256).
DEFAULT_ITERATIONS = 600_000
#: Hashes claiming more iterations than this are refused, so a forged or corrupted
#: hash string cannot pin a worker for minutes.
MAX_ITERATIONS = 10_000_000
_SALT_BYTES = 32
# Digests accepted when verifying; new hashes always use sha256.
_DIGESTS = frozenset({"sha256", "sha384", "sha512"})
_HEX = frozenset("0123456789abcdefABCDEF")
# A salt or digest longer than this is not something we ever wrote.
_MAX_HEX_LEN = 1024


def hash_password(password: str, iterations: int = DEFAULT_ITERATIONS) -> str:
    """Hash ``password`` with PBKDF2-HMAC-SHA256 and a fresh 32-byte random salt.

    Returns ``pbkdf2:sha256:<iterations>$<salt hex>$<hash hex>``. Raises ``TypeError``
    when ``password`` is not a string and ``ValueError`` for an iteration count outside
    ``1..MAX_ITERATIONS``.
    """
    if not isinstance(password, str):
        raise TypeError(f"password must be str, not {type(password).__name__}")
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise TypeError("iterations must be an int")
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be between 1 and {MAX_ITERATIONS}")
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf8"), salt, iterations)
    return f"pbkdf2:sha256:{iterations}${salt.hex()}${digest.hex()}"


def _parse(hash_string: str) -> tuple[str, int, bytes, bytes] | None:
    """Split a stored hash into ``(digest, iterations, salt, hash)``, or None if malformed."""
    if len(hash_string) > 3 * _MAX_HEX_LEN:
        return None
    head, sep, rest = hash_string.partition("$")
    if not sep:
        return None
    parts = head.split(":")
    if len(parts) != 3 or parts[0] != "pbkdf2" or parts[1] not in _DIGESTS:
        return None
    iter_text = parts[2]
    # str.isdigit() accepts non-ASCII digits; int() would too, so check ASCII explicitly.
    if not (iter_text.isascii() and iter_text.isdigit()) or len(iter_text) > 9:
        return None
    iterations = int(iter_text)
    if not 1 <= iterations <= MAX_ITERATIONS:
        return None
    salt_hex, sep, hash_hex = rest.partition("$")
    if not sep or not salt_hex or not hash_hex or "$" in hash_hex:
        return None
    for text in (salt_hex, hash_hex):
        if len(text) % 2 or len(text) > _MAX_HEX_LEN or not _HEX.issuperset(text):
            return None
    return parts[1], iterations, bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)


def verify_password(password: str, hash_string: str | None) -> bool:
    """Return True if ``password`` matches a hash made by :func:`hash_password`.

    The final comparison is constant time. Any problem with the inputs (None, wrong
    types, a malformed string, an unknown digest, an absurd iteration count) gives
    False instead of an exception.
    """
    if not isinstance(password, str) or not isinstance(hash_string, str):
        return False
    parsed = _parse(hash_string)
    if parsed is None:
        return False
    digest_name, iterations, salt, expected = parsed
    try:
        secret = password.encode("utf8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    actual = hashlib.pbkdf2_hmac(digest_name, secret, salt, iterations)
    return hmac.compare_digest(actual, expected)
