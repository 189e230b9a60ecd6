"""A card declined or a delayed payment failed on a request's Checkout page: told at once, in words.

Stripe keeps a Checkout Session ``open`` when a card is declined, so the
patient can try another; what it reports is ``payment_intent.payment_failed``
(with ``charge.failed``) on the connected account, the PaymentIntent carrying
``last_payment_error`` (``code``, and for an issuer's decline ``decline_code``)
and the metadata the session gave it (our request id and checkout attempt).
The request stays open; its ``problem`` says what happened, and the panels put
it in words (docs/rules.md, rule P12).

Applied once per event id (``stripe_events``), under the request's row lock,
and in order: an event older than the problem already recorded, one for an
earlier attempt, or one for a request that is no longer open changes nothing.
A delayed payment's failure (``checkout.session.async_payment_failed``) ends
the request as ``failed``; the PaymentIntent's event, whichever comes first,
adds the bank's reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.serialisers import request_view
from app.billing.statuses import REQUEST_OPEN, CheckoutProblem, RequestStatus
from app.models import PaymentRequest
from app.payments.settlement import locked_request

Result = tuple[str, dict[str, Any] | None]


def _reason(intent: dict[str, Any]) -> str | None:
    error = intent.get("last_payment_error") or {}
    code = error.get("decline_code") or error.get("code")
    return str(code)[:60] if code else None


async def intent_failed(s: AsyncSession, event: dict[str, Any], account: str | None, now: datetime) -> Result:
    """``payment_intent.payment_failed``: record the decline on its request, if it is still the news."""
    intent = (event.get("data") or {}).get("object") or {}
    meta = intent.get("metadata") or {}
    request_id = meta.get("payment_request_id")
    if not isinstance(request_id, str) or await s.get(PaymentRequest, request_id) is None:
        return "unknown_request", None
    r = await locked_request(s, request_id)
    if (r.stripe_account_id or None) != (account or None):
        return "wrong_account", None
    created = event.get("created")
    at = datetime.fromtimestamp(created, UTC) if isinstance(created, int) else now
    if r.status == RequestStatus.FAILED and r.problem == CheckoutProblem.FAILED and r.problem_detail is None:
        # The delayed payment's failure came first; this adds the bank's reason.
        r.problem_detail = _reason(intent)
        return "failure_reason", request_view(r)
    if r.status not in REQUEST_OPEN:
        return "stale", None
    attempt = meta.get("checkout_attempt")
    if attempt is not None and attempt != str(r.checkout_attempt):
        return "stale", None  # a page the patient left, or one closed for a newer attempt
    if r.problem_at is not None and at < r.problem_at:
        return "stale", None  # an older decline arriving late
    r.problem, r.problem_detail, r.problem_at = CheckoutProblem.DECLINED, _reason(intent), at
    r.payment_intent_id = r.payment_intent_id or intent.get("id")
    r.updated_at = now
    return "declined", request_view(r)
