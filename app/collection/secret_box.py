"""Secrets kept in the database, encrypted at rest: the PayEx password of a MediPay account.

Fernet (AES-128-CBC with an HMAC-SHA256, from ``cryptography``) under a key
derived from ``SECRET_KEY`` with HKDF for this one purpose, so the key that
signs sessions is never the key that encrypts passwords, and a database dump
alone reveals nothing. Changing ``SECRET_KEY`` makes the stored passwords
unreadable: ``reveal`` then raises ``SecretUnreadable`` and the admin enters
the password again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"consultpay medipay account password"


class SecretUnreadable(ValueError):
    """The stored value was not sealed with this ``SECRET_KEY`` (or was tampered with)."""


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("a SECRET_KEY is required to encrypt secrets")
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode("utf-8"))
        self._fernet = Fernet(base64.urlsafe_b64encode(raw))

    def seal(self, plaintext: str) -> str:
        """The encrypted form to store (a fresh IV each time, so equal passwords differ)."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def reveal(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError) as e:
            raise SecretUnreadable("the stored secret cannot be decrypted with this SECRET_KEY") from e
