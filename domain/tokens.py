"""Secret tokens that stand in for a signed-in user: calendar feed links and API tokens.

A token is 256 random bits (``secrets``), shown once when it is issued; the database keeps
only its SHA-256. A plain hash suffices (no slow password hash): the token is random, so
there is nothing to guess from the hash, and every request must look it up quickly.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32
# Tokens are URL-safe base64 after their prefix; anything longer or with other characters
# is refused before the database is asked.
MAX_TOKEN_LENGTH = 100
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def new_token(prefix: str = "") -> str:
    """A fresh token: ``prefix`` (which says what it is, e.g. for secret scanners) and
    43 URL-safe characters."""
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the database stores and looks tokens up by."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def plausible_token(token: object) -> bool:
    """Could this be one of our tokens? Cheap checks before any lookup."""
    return (
        isinstance(token, str)
        and 20 <= len(token) <= MAX_TOKEN_LENGTH
        and all(c in _ALPHABET for c in token)
    )
