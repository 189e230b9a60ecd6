"""Opaque, prefixed identifiers (``pr_…``, ``con_…``) that say what they name.

After the prefix, 32 hex digits in the layout of a version-7 UUID (RFC 9562):
the milliseconds since 1970 (48 bits), then 74 random bits. An id made in a
later millisecond sorts after one made earlier, so a table's primary key and
the indexes on its ids take new rows at their end instead of at a random place
in the B-tree (with random ids every insert touched pages all over each index).

An id is not a secret: it tells when it was made, and nothing may be reached
by knowing one. Whatever is (a receipt's link, an invitation, an API key, a
join token) carries its own token, from ``secrets`` or signed with the secret key.
"""

import os
import time

_VERSION = 7 << 76  # bits 48–51 of the 128
_VARIANT = 0b10 << 62  # bits 64–65
_RANDOM = ((1 << 80) - 1) & ~(0xF << 76) & ~(0b11 << 62)  # the 74 bits left to chance


def new_id(prefix: str) -> str:
    ms = time.time_ns() // 1_000_000
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10)) & _RANDOM | _VERSION | _VARIANT
    return f"{prefix}_{value:032x}"
