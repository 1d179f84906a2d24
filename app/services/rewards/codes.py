"""Redemption codes: generated, normalised, hashed for lookup and encrypted for their owner.

A code is 12 symbols from a 30-symbol alphabet without look-alikes (no 0/O, 1/I/L, no U,
which reads like V), shown as ``XXXX-XXXX-XXXX``: 12 x log2(30) ≈ 59 bits from ``secrets``,
so guessing one at a till is hopeless, and staff can read it aloud without confusion.

The database never holds a usable code. ``code_hash`` is an HMAC-SHA256 of the normalised
code (the till looks it up by hash); ``code_encrypted`` is AES-256-GCM, bound to the
redemption id, so the owner can see the code again. Both keys are derived from the server
secret with separate labels, so neither key can stand in for the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
GROUP = 4
HINT_LENGTH = 2
_ALLOWED = frozenset(ALPHABET)
_NONCE_BYTES = 12


def new_code() -> str:
    """A fresh code, normalised (no dashes); format it with ``display`` to show it."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def display(code: str) -> str:
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalise(raw: str) -> str | None:
    """Upper-case, drop spaces and dashes; None when what is left cannot be a code.
    Characters outside the alphabet are refused rather than guessed (O is not read as 0)."""
    code = "".join(raw.split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or not set(code) <= _ALLOWED:
        return None
    return code


def hint(code: str) -> str:
    return code[-HINT_LENGTH:]


@lru_cache(maxsize=8)
def _derive(secret: str, label: str) -> bytes:
    return hmac.new(secret.encode(), label.encode(), hashlib.sha256).digest()


def hash_code(secret: str, code: str) -> str:
    """Hex HMAC-SHA256 of a normalised code: the lookup key stored in ``code_hash``."""
    key = _derive(secret, "redemption-code-hash")
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def encrypt_code(secret: str, code: str, redemption_id: str) -> str:
    """Base64 of nonce + AES-GCM ciphertext; the redemption id is authenticated with it, so
    a ciphertext copied onto another row does not decrypt."""
    key = _derive(secret, "redemption-code-encryption")
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, code.encode(), redemption_id.encode())
    return base64.b64encode(nonce + sealed).decode()


def decrypt_code(secret: str, token: str, redemption_id: str) -> str | None:
    """The code, or None when the token was not made with this secret for this redemption."""
    key = _derive(secret, "redemption-code-encryption")
    try:
        raw = base64.b64decode(token.encode(), validate=True)
        return (
            AESGCM(key)
            .decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], redemption_id.encode())
            .decode()
        )
    except (ValueError, InvalidTag):
        return None
