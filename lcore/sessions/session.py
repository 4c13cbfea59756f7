"""``Session`` (what ``ctx.session`` is) and the timestamped, key-rotating signer of its cookie."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from .._utils import _cookie_sign, _cookie_unsign, tob

if TYPE_CHECKING:  # pragma: no cover
    from .middleware import SessionMiddleware

__all__ = ["Session"]

#: Session ids are 43 URL-safe characters (32 random bytes); anything else is refused.
_SID = re.compile(r"[A-Za-z0-9_-]{43}")
#: A cookie longer than a browser keeps is refused before any HMAC is computed.
_MAX_COOKIE = 4200
#: How far in the future a timestamp may be (clock skew between machines).
_SKEW = 60


def new_session_id() -> str:
    """A fresh, unguessable session id (32 random bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


class Signer:
    """Signs JSON values with a timestamp; verifies with every key (the first one signs).

    The format is lcore's signed-cookie format (``!`` + base64 HMAC-SHA256 + ``?`` +
    base64 JSON) over ``[timestamp, value]``. Each secret is first turned into a key
    for ``purpose`` alone, so a session cookie can never pass for another signed value
    made with the same secret (``response.set_cookie(..., secret=...)``).
    """

    def __init__(self, secret: str | bytes | Iterable[str | bytes], purpose: bytes) -> None:
        keys = [secret] if isinstance(secret, (str, bytes)) else list(secret)
        if not keys or not all(isinstance(k, (str, bytes)) and k for k in keys):
            raise ValueError("secret must be a non-empty string (or a list of them, newest first)")
        self._keys = [hmac.new(tob(k), purpose, hashlib.sha256).digest() for k in keys]

    def sign(self, value: Any, now: float | None = None) -> str:
        """``value`` signed with the newest key, stamped with the time (whole seconds)."""
        stamp = int(time.time() if now is None else now)
        return _cookie_sign([stamp, value], self._keys[0]).decode("ascii")

    def unsign(
        self, text: str | None, max_age: float | None, now: float | None = None
    ) -> tuple[Any, bool] | None:
        """``(value, signed_with_an_old_key)``, or None when forged, corrupt or too old."""
        if not text or len(text) > _MAX_COOKIE:
            return None
        decoded, old_key = None, False
        for index, key in enumerate(self._keys):
            decoded = _cookie_unsign(text, key)
            if decoded is not None:
                old_key = index > 0
                break
        if not (isinstance(decoded, list) and len(decoded) == 2 and type(decoded[0]) is int):
            return None
        stamp, value = decoded
        age = (time.time() if now is None else now) - stamp
        if age < -_SKEW or (max_age is not None and age > max_age):
            return None
        return value, old_key


class Session(MutableMapping[str, Any]):
    """The current client's session: a dict of JSON values, ``ctx.session``.

    Nothing is read until the session is first used (for the Redis store: no round
    trip for a request that never touches it), and it is saved at the end of the
    request only when it was changed. Changing a value *inside* a stored dict or list
    is not seen; assign the key again or set ``session.modified = True``.

    ``regenerate()`` gives the session a new id and keeps its data (call it at login,
    so an id known before login is worth nothing after it); ``clear()`` empties it and
    deletes it (logout). Values must be JSON-serialisable.
    """

    def __init__(self, middleware: SessionMiddleware, cookie: str | None) -> None:
        self._mw = middleware
        self._cookie = cookie
        self._parsed = False
        self._sid: str | None = None
        self._cookie_data: dict[str, Any] | None = None
        self._data: dict[str, Any] | None = None
        self._old_ids: list[str] = []
        #: True when the store could not be reached and the session reads as empty.
        self.unavailable = False
        #: True when the session changed and will be saved at the end of the request.
        self.modified = False
        #: True when the cookie was signed with an older key (it is signed again).
        self.resign = False
        self._found = False

    # -- reading ------------------------------------------------------------------
    def _parse(self) -> None:
        if self._parsed:
            return
        self._parsed = True
        mw = self._mw
        got = mw._signer.unsign(self._cookie, mw.max_age)
        if got is None:
            return
        value, old_key = got
        if mw.store.in_cookie:
            if not isinstance(value, dict):
                return
            sid, data = value.get("i"), value.get("d")
            if not (isinstance(sid, str) and _SID.fullmatch(sid) and isinstance(data, dict)):
                return
            self._cookie_data = data
        else:
            sid = value
            if not (isinstance(sid, str) and _SID.fullmatch(sid)):
                return
        self._sid = sid
        self.resign = old_key

    def _ensure_loaded(self) -> dict[str, Any]:
        data = self._data
        if data is None:
            self._parse()
            found = self._mw._load(self)
            self._found = found is not None
            if found is None:
                # Nothing stored under that id (expired, deleted, never saved): a new
                # session, which gets a fresh id if it is ever written.
                self._sid = None
                found = {}
            data = self._data = found
        return data

    def load(self) -> None:
        """Read the session now (it is otherwise read on first use)."""
        self._ensure_loaded()

    async def aload(self) -> None:
        """Read the session now without blocking the event loop.

        ``SessionMiddleware`` already does this before an ``async def`` handler runs (when
        the store may block and the client sent a session cookie); other async code that
        reads the session on the loop (an async hook, say) can await this first.
        """
        if self._data is None:
            from .. import _bridge
            from ..context import _current_or_none

            if self._mw.store.nonblocking:
                self._ensure_loaded()
            else:
                await _bridge.run_sync(_current_or_none(), self._ensure_loaded)

    @property
    def loaded(self) -> bool:
        """True once the session has been read."""
        return self._data is not None

    @property
    def id(self) -> str | None:
        """The session id (None for a session not saved yet)."""
        self._parse()
        return self._sid

    @property
    def is_new(self) -> bool:
        """True when the client brought no valid, stored session."""
        self._ensure_loaded()
        return not self._found

    def csrf_binding(self) -> str | None:
        """What :class:`CSRFMiddleware` binds its token to: this session's id.

        None for a session with nothing in it (the CSRF middleware then uses its own
        binding cookie), so anonymous visitors do not each get a stored session.
        """
        self._parse()
        if self._data is not None and not self._data:
            return None
        return self._sid

    # -- the mapping ---------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self._ensure_loaded()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._ensure_loaded()[key] = value
        self._changed()

    def __delitem__(self, key: str) -> None:
        del self._ensure_loaded()[key]
        self._changed()

    def __iter__(self) -> Iterator[str]:
        return iter(self._ensure_loaded())

    def __len__(self) -> int:
        return len(self._ensure_loaded())

    def __contains__(self, key: object) -> bool:
        return key in self._ensure_loaded()

    def get(self, key: str, default: Any = None) -> Any:
        """``session[key]``, or ``default`` when it is not set."""
        return self._ensure_loaded().get(key, default)

    def _changed(self) -> None:
        self.modified = True
        if self._sid is None:
            # An id now, not at save time: CSRF binds its token to it during the request.
            self._sid = new_session_id()

    # -- login and logout -----------------------------------------------------------
    def regenerate(self) -> None:
        """Give the session a new id, keeping its data (call it when a user logs in).

        The old id stops working: its stored data is deleted when the session is saved.
        """
        self._ensure_loaded()
        if self._sid is not None:
            self._old_ids.append(self._sid)
        self._sid = new_session_id()
        self.modified = True

    def clear(self) -> None:
        """Empty the session and delete it, with its cookie (call it when a user logs out)."""
        self._parse()
        if self._sid is not None:
            self._old_ids.append(self._sid)
        self._sid = None
        self._data = {}
        self.modified = True

    def __repr__(self) -> str:
        state = "not loaded" if self._data is None else repr(self._data)
        return f"<Session {state}{' (modified)' if self.modified else ''}>"
