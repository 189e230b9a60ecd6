"""Check one request's parameters against the SDK's ``TypedDict`` for its endpoint.

The checking itself is the sandbox's (``integrations/stripe/sandbox/contract.py``:
unknown keys, ``Literal`` enums, required keys, integers, booleans, lists and
nested objects, decoded from the wire as the SDK encodes them). Here it is
applied to any ``/v1`` endpoint the installed SDK has, found through
``sdk_params``, and every problem is reported, not only the first.
"""

from __future__ import annotations

from integrations.stripe.sandbox.contract import DecodeError, Violation, check_params, decode, decode_query

from .sdk_params import endpoint_for

__all__ = ["Violation", "check_request", "decode", "decode_query"]


def check_request(method: str, path: str, query: str, body: str | None) -> list[Violation]:
    """All the ways this request breaks its endpoint's definition (empty when none)."""
    endpoint = endpoint_for(method, path)
    if endpoint is None:
        return [Violation("unknown", "", f"no {method} {path} in the stripe package's API")]
    try:
        params = decode_query((body or "") if method.upper() == "POST" else query)
    except DecodeError as e:
        return [Violation("invalid", "", str(e))]
    return check_params(endpoint.params_class(), params)
