"""Opaque, prefixed identifiers (``pr_…``, ``con_…``) that say what they name."""

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"
