"""The MediPay password at rest: sealed under a key derived from SECRET_KEY, never stored as typed."""

from __future__ import annotations

import pytest

from app.collection.secret_box import SecretBox, SecretUnreadable

KEY = "test-secret-key-that-is-long-enough-0123456789"


def test_sealed_value_is_not_the_password_and_opens_again() -> None:
    box = SecretBox(KEY)
    sealed = box.seal("medipay-test")
    assert "medipay-test" not in sealed
    assert sealed != box.seal("medipay-test")  # a fresh IV each time
    assert box.reveal(sealed) == "medipay-test"
    assert SecretBox(KEY).reveal(sealed) == "medipay-test"  # the key is derived, not random


def test_another_key_or_a_tampered_value_cannot_open_it() -> None:
    sealed = SecretBox(KEY).seal("æøå passord")
    with pytest.raises(SecretUnreadable):
        SecretBox(KEY + "x").reveal(sealed)
    with pytest.raises(SecretUnreadable):
        SecretBox(KEY).reveal(sealed[:-4] + "AAAA")
    with pytest.raises(SecretUnreadable):
        SecretBox(KEY).reveal("not a token")
    with pytest.raises(ValueError):
        SecretBox("")
