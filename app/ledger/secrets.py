"""Secrets kept at rest: the PayEx password of a MediPay account.

Encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from
``SECRET_KEY``, so a copy of the database alone does not reveal a password.
Changing ``SECRET_KEY`` makes stored passwords unreadable: they must be typed
in again (``SecretUnreadable``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken


class SecretUnreadable(ValueError):
    pass


def _fernet(secret_key: str) -> Fernet:
    key = hmac.new(secret_key.encode(), b"consultpay:medipay-password", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret_key: str, plain: str) -> str:
    return _fernet(secret_key).encrypt(plain.encode()).decode()


def decrypt(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError) as e:
        raise SecretUnreadable("the stored secret cannot be read with this SECRET_KEY") from e
