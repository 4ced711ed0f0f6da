"""Editor sign-in for the UI: passwords are kept only as scrypt hashes.

A hash reads `scrypt$N$r$p$SALT$KEY` (salt and key in base64), made by `hash_password` or
`slopipe ui hash-password`, and configured as `ui_editors: {name: hash}`. Anyone may view;
only a signed-in editor may write, and every write names that editor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from functools import cache

#: scrypt cost: 2**14 x 8 x 1 takes about 50 ms and 16 MB, as OWASP suggests at minimum.
N, R, P = 2**14, 8, 1
KEY_BYTES = 32
#: Editor names appear in the version history; keep them plain.
NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The scrypt hash to put under `ui_editors` for this password."""
    if not password:
        raise ValueError("an empty password cannot be hashed; choose one")
    salt = salt or secrets.token_bytes(16)
    key = _scrypt(password, salt, N, R, P)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether `password` matches `hashed`; a malformed hash matches nothing."""
    try:
        scheme, n, r, p, salt, key = hashed.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        found = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, expected)


def authenticate(editors: dict[str, str], name: str, password: str) -> str | None:
    """The editor's name when `name` and `password` match the configured editors."""
    name = name.strip()
    hashed = editors.get(name) if NAME.match(name) else None
    if hashed is None:
        # Spend the same time on an unknown name, so timing does not tell names apart.
        verify_password(password, _dummy())
        return None
    return name if verify_password(password, hashed) else None


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=KEY_BYTES
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@cache
def _dummy() -> str:
    return hash_password("not a real password", salt=b"0" * 16)
